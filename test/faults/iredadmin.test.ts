// The faults suite (./suite.ts) against the iredadmin emulator.
import { faultsSuite } from './suite.ts';
import { iredadmin } from './support.ts';

faultsSuite(iredadmin);
