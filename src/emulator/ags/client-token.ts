/**
 * ClientToken idempotency of the create actions (CreateSandboxTool, StartSandboxInstance): a retried request
 * with the same token and parameters answers what the first one created; the same token with other
 * parameters is FailedOperation.DuplicateRequest.
 */
import { AgsApiError } from "./api-error.js";

export interface ClientTokenClaim {
  /** The id that an earlier request with this token created (undefined for a first request). */
  earlierId: string | undefined;
  /** Records what this request created, so that its retries find it. */
  remember(id: string): void;
}

export class ClientTokens {
  private readonly seen = new Map<string, { id: string; fingerprint: string }>();

  /** Looks `req.ClientToken` up; throws DuplicateRequest when it was used with different parameters. */
  claim(req: { ClientToken?: string | undefined }): ClientTokenClaim {
    const token = req.ClientToken;
    // The parameters as the request arrived (before the caller fills in defaults), without the token itself.
    const fingerprint = JSON.stringify({ ...req, ClientToken: undefined });
    const prior = token === undefined ? undefined : this.seen.get(token);
    if (prior && prior.fingerprint !== fingerprint) {
      throw new AgsApiError(
        "FailedOperation.DuplicateRequest",
        "A request with the same ClientToken but different parameters was already made.",
      );
    }
    return {
      earlierId: prior?.id,
      remember: (id) => {
        if (token !== undefined) this.seen.set(token, { id, fingerprint });
      },
    };
  }
}
