/**
 * Fail fast when the data-plane gateway cannot serve the instance. Once the control plane says RUNNING and
 * a token is issued, a gateway host that does not resolve, or a gateway that keeps answering 404 (it does
 * not know the instance: the `domain` names another region or another service), will not fix itself:
 * waiting out `startup_timeout` (180 s by default) only hides the cause. A 404 right after RUNNING can be
 * the gateway catching up, so it must persist for a while before it counts.
 */
import { DeploymentStartupError } from "../../runtime/index.js";

/** A 404 must persist this long (and over several answers) before the start gives up. */
export const GATEWAY_NOT_FOUND_GRACE_MS = 5_000;
const GATEWAY_NOT_FOUND_MIN_ANSWERS = 3;

/** The gateway does not serve this instance (wrong domain or region). */
export class AgsGatewayError extends DeploymentStartupError {}

export interface GatewayCheckContext {
  /** `https://{port}-{id}.{domain}`. */
  url: string;
  domain: string;
  region: string;
  graceMs?: number;
  now?: () => number;
}

export class GatewayCheck {
  private notFoundSince: number | undefined;
  private notFoundAnswers = 0;

  constructor(private readonly ctx: GatewayCheckContext) {}

  private hint(): string {
    return `check domain (${this.ctx.domain}) and region (${this.ctx.region}): the data-plane domain of region R is R.tencentags.com, the default when domain is empty`;
  }

  /** Looks at one failed `is_alive` answer; throws when the gateway will not serve the instance. */
  observe(message: string): void {
    const host = new URL(this.ctx.url).host;
    if (/\bENOTFOUND\b/.test(message)) {
      throw new AgsGatewayError(`the sandbox gateway host ${host} does not resolve; ${this.hint()}`);
    }
    if (!message.startsWith("Status code 404")) {
      this.notFoundSince = undefined;
      this.notFoundAnswers = 0;
      return;
    }
    const now = (this.ctx.now ?? Date.now)();
    this.notFoundSince ??= now;
    this.notFoundAnswers++;
    if (
      this.notFoundAnswers >= GATEWAY_NOT_FOUND_MIN_ANSWERS &&
      now - this.notFoundSince >= (this.ctx.graceMs ?? GATEWAY_NOT_FOUND_GRACE_MS)
    ) {
      throw new AgsGatewayError(
        `the sandbox gateway at ${host} answers 404 for an instance the control plane reports RUNNING; ${this.hint()}`,
      );
    }
  }
}
