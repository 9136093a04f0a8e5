// The faults suite (./suite.ts) against the james emulator.
import { faultsSuite } from './suite.ts';
import { james } from './support.ts';

faultsSuite(james);
