export {
  createHostRoutingDispatcher,
  createHostRoutingHttpAgent,
  type HostRoutingOptions,
} from "./host-routing.js";
