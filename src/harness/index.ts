/**
 * The harness's public API (what `pushcheck harness`, `simulate`, the demo and the tests use, and what the
 * package exports as `pushcheck/harness`): start and stop the harness, its services one by one, the simulator.
 */
export { startHarness, HARNESS_NAMES } from './harness.js';
export type { Harness, HarnessEndpoints, HarnessOptions } from './harness.js';
export { startTlsEndpoint } from './endpoints.js';
export type { Endpoint, HostPort, TlsEndpointOptions } from './endpoints.js';
export { runSimulation, MAX_SOCKET_DEVICES, MAX_SOCKET_SPEED } from './fleet/simulate.js';
export type { SimulationOptions } from './fleet/simulate.js';
export type { SimulationReport, SimulationSummary, FaultEffect } from './fleet/simulation-report.js';
export { renderSimulationTable } from './report.js';
export { VirtualClock, ScaledClock } from './clock.js';
export type { Clock, Timer } from './clock.js';
export { FaultBoard, FAULTS, FAULT_NAMES, parseFault } from './faults.js';
export type { FaultName, FaultSpec } from './faults.js';
export { ApnsService, APNS_REASONS } from './services/apns.js';
export { startApnsServer } from './services/apns-http.js';
export type { ApnsEnvironment, ApnsReason, ApnsRequest, ApnsResponse, ProviderKey } from './services/apns.js';
export { MdmService } from './services/mdm.js';
export { startMdmServer } from './services/mdm-http.js';
export type { Action, ActionState, CheckInStatus, DeliveryPath, HistoryEntry } from './services/mdm.js';
export { FcmService, FCM_ERRORS } from './services/fcm.js';
export { startFcmServer } from './services/fcm-http.js';
export { signProviderToken, generateProviderKey } from './jwt.js';
export { createCertificateAuthority } from './certs.js';
export { HttpError, takeHarnessBugs } from './http.js';
export type { HarnessBug } from './http.js';
