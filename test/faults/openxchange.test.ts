// The faults suite (./suite.ts) against the openxchange emulator.
import { faultsSuite } from './suite.ts';
import { openxchange } from './support.ts';

faultsSuite(openxchange);
