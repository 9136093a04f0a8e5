// The HTTP framework backend clients build on: a client (lanes, retries, sessions, abort signals,
// request counting), authentication schemes, answer classifiers, and request bodies.
export { HttpClient, type ConnectionOptions, type HttpClientOptions } from './client.ts';
export {
  basicAuth,
  loginSession,
  noAuthentication,
  sessionCookies,
  staticHeaders,
  type Authentication,
  type LoginContext,
  type Reply,
  type SessionAuthentication,
  type SessionCredentials,
  type StaticAuthentication,
} from './auth.ts';
export {
  classifyByStatus,
  defaultClassifier,
  kindOfStatus,
  permanent,
  readJson,
  retryAfterMs,
  sessionExpired,
  statusError,
  success,
  transient,
  type Answer,
  type AnswerClassifier,
  type HttpResponse,
} from './answers.ts';
export {
  describeRequest,
  formBody,
  jsonBody,
  rawBody,
  segment,
  soapBody,
  type FormFields,
  type HttpMethod,
  type HttpRequest,
  type RequestBody,
} from './request.ts';
