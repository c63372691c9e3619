/** The harness's public surface: what `pushcheck harness`, `simulate`, the demo and the tests use. */
export { startHarness, HARNESS_NAMES } from './harness.js';
export type { Harness, HarnessEndpoints, HarnessOptions } from './harness.js';
export { startTlsEndpoint } from './endpoints.js';
export type { Endpoint, HostPort, TlsEndpointOptions } from './endpoints.js';
export { runSimulation } from './simulate.js';
export type { SimulationOptions, SimulationReport, SimulationSummary, FaultEffect } from './simulate.js';
export { renderSimulationTable } from './report.js';
export { VirtualClock, ScaledClock } from './clock.js';
export type { Clock, Timer } from './clock.js';
export { FaultBoard, FAULTS, FAULT_NAMES, parseFault } from './faults.js';
export type { FaultName, FaultSpec } from './faults.js';
export { ApnsService, APNS_REASONS, startApnsServer } from './apns.js';
export type { ApnsReason, ApnsRequest, ApnsResponse } from './apns.js';
export { MdmService, startMdmServer } from './mdm.js';
export type { Action, ActionState, CheckInStatus, DeliveryPath, HistoryEntry } from './mdm.js';
export { FcmService, FCM_ERRORS, startFcmServer } from './fcm.js';
export { signProviderToken, generateProviderKey } from './jwt.js';
export { createCertificateAuthority } from './certs.js';
