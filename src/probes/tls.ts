// Stub until the real probe lands; replaced wholesale.
import type { ProbeKind } from './types.js';

export const tlsProbe: ProbeKind = {
  checks: ['tls'],
  run: async () => {
    throw new Error('tls probe not implemented yet');
  },
};
