import type { QdrantApi } from "./api.js";
import type { QdrantHttp } from "./http.js";
import type { QdrantOptions } from "./options.js";

/** What every operation of one `qdrant()` source shares. */
export interface Deps {
  options: QdrantOptions;
  http: QdrantHttp;
  api: QdrantApi;
}
