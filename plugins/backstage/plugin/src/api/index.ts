export { mlmetaApiRef, MlmetaRequestError } from './MlmetaApi';
export type { MlmetaApi, MlmetaGraphQLError, MlmetaObserver, MlmetaResult } from './MlmetaApi';
export { MlmetaClient, DEFAULT_PROXY_PATH, documentText } from './MlmetaClient';
export type { MlmetaClientOptions } from './MlmetaClient';
