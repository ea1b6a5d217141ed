export * from "./logger.js";
export * from "./model-proxy.js";
export * from "./openai-wire.js";
export * from "./recorder.js";
export * from "./session.js";
export * from "./single-rollout.js";
export { mountTrainerRoutes, TRAINER_POLL_MAX_S, type TrainerRoutesOptions } from "./trainer-routes.js";
