/**
 * Node modules that only some runs need, loaded where they are used rather than when a module that may use them
 * loads: node:tls (and with it node:crypto and OpenSSL's bindings) cost a run about 8 ms of CPU before its first
 * connect on Node 20, node:crypto alone about 5 ms, and a run of TCP checks uses neither (test/cli/start.test.ts holds
 * that list). A module that needs one calls its function here each time (after the first, Node answers from its
 * own table); types come from `import type`.
 */
export const nodeTls = (): typeof import('node:tls') => process.getBuiltinModule('node:tls');
export const nodeCrypto = (): typeof import('node:crypto') => process.getBuiltinModule('node:crypto');
export const nodeDns = (): typeof import('node:dns') => process.getBuiltinModule('node:dns');
