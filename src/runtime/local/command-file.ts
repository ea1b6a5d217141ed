/**
 * The file a session's commands are read from, and the helper the run line sources next to it. One file is
 * overwritten in place through a descriptor kept open: opening with O_TRUNC (or creating and removing a
 * file) costs a quarter of a millisecond per command on ext4, rewriting an open file a hundredth of that.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Larger commands are written asynchronously, so a huge heredoc does not stall the event loop. */
const SYNC_WRITE_MAX_BYTES = 256 * 1024;

/**
 * Sourced twice by every run line (bash-session.ts), with its stderr (so its own `set -x` trace) sent to
 * /dev/null. `o <flags>` (before the command, flags = `$-`): turns xtrace off so our own line is never
 * traced, remembering that it was on. `r <status>` (first thing inside the command's `eval`): turns xtrace
 * back on and returns `<status>`, so the command sees the previous command's `$?`, as typed at a prompt.
 */
const RUN_HELPER = `if [[ $1 == o ]]; then
  case $2 in *x*) builtin set +x; SWEREX_XTRACE=1 ;; esac
else
  if [[ -n \${SWEREX_XTRACE-} ]]; then builtin unset SWEREX_XTRACE; builtin set -x; fi
  builtin return "$2"
fi
`;

export class CommandFile {
  private fd: number | undefined;
  private generation = 0;
  path: string;
  /** The run-line helper (`RUN_HELPER`), present whenever the command file is. */
  readonly helperPath: string;

  constructor(private readonly dir: string) {
    this.path = join(dir, "c");
    this.helperPath = join(dir, "r");
  }

  /**
   * Use a new file from the next write on. Called when the shell may still read a line naming the current
   * file later (a command that did not finish), so that such a late line never runs a newer command.
   */
  rotate(): void {
    this.closeFd();
    this.path = join(this.dir, `c${++this.generation}`);
  }

  /** Replaces the file's content with `text`; recreates the directory and file if a command removed them. */
  async write(text: string): Promise<void> {
    const bytes = Buffer.from(text, "utf8");
    if (bytes.length > SYNC_WRITE_MAX_BYTES) {
      this.closeFd();
      this.ensureDir();
      await writeFile(this.path, bytes, { mode: 0o600 });
      return;
    }
    const fd = this.open();
    writeSync(fd, bytes, 0, bytes.length, 0);
    ftruncateSync(fd, bytes.length);
  }

  close(): void {
    this.closeFd();
  }

  private open(): number {
    // A command may have deleted the file or the whole directory: the descriptor then names a dead inode.
    if (this.fd !== undefined && fstatSync(this.fd).nlink > 0) return this.fd;
    this.closeFd();
    this.ensureDir();
    this.fd = openSync(this.path, "w", 0o600);
    return this.fd;
  }

  /** The directory and the helper, recreated if a command removed them. */
  private ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (!existsSync(this.helperPath)) writeFileSync(this.helperPath, RUN_HELPER, { mode: 0o600 });
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = undefined;
  }
}
