// Stub until the real probe lands; replaced wholesale.
import type { ProbeKind } from './types.js';

export const tcpProbe: ProbeKind = {
  checks: ['tcp'],
  run: async () => {
    throw new Error('tcp probe not implemented yet');
  },
};
