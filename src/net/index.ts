export { HOP_BY_HOP_REQUEST, HOP_BY_HOP_RESPONSE } from "./hop-by-hop.js";
export {
  createHostRoutingDispatcher,
  createHostRoutingHttpAgent,
  type HostRoutingOptions,
} from "./host-routing.js";
