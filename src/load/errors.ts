// Configuration errors are part of the model (the engine and the secrets report them too); the
// loader re-exports them for its callers.
export * from '../model/errors.ts';
