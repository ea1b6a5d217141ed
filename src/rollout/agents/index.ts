export * from "./bash-agent.js";
export * from "./chat-client.js";
export * from "./command-agent.js";
export * from "./config.js";
export * from "./prompts.js";
export * from "./result.js";
export * from "./swe-agent-config.js";
