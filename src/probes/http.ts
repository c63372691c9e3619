// Stub until the real probe lands; replaced wholesale.
import type { ProbeKind } from './types.js';

export const httpProbe: ProbeKind = {
  checks: ['http', 'https'],
  run: async () => {
    throw new Error('http probe not implemented yet');
  },
};
