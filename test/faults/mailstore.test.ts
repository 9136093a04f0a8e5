// The faults suite (./suite.ts) against the mailstore emulator.
import { faultsSuite } from './suite.ts';
import { mailstore } from './support.ts';

faultsSuite(mailstore);
