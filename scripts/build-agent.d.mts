/** Where `buildAgent` writes the agent's bundle: dist/agent/agent.js. */
export declare const AGENT_BUNDLE: string;
/** Builds dist/agent/agent.js from src-main/agent.ts; resolves with its path. */
export declare function buildAgent(): Promise<string>;
