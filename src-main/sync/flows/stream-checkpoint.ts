/**
 * Where a change-stream loop (capture's, the pull's) stands against its
 * checkpoint: the resume token the checkpoint holds, and when it was last
 * written. A batch that writes something moves the checkpoint in its own
 * transaction (`committed`); events that change nothing move it only now and
 * then, outside any transaction (`nowAndThen`, `whenIdle`) — a restart from
 * an older one reads them again and finds nothing again.
 */
import type { ResumeToken } from 'mongodb';
import type { EventQueue } from '../event-queue.ts';

/** A quiet stream's checkpoint moves at most this often: a restart reads again at most this much that changed nothing. */
const IDLE_CHECKPOINT_MS = 60_000;

export class StreamCheckpoint {
  /** The resume token the checkpoint holds (none while the stream starts from a cluster time). */
  token: unknown;
  #savedAt = 0;
  /** Writes the checkpoint with this token, outside any transaction. */
  readonly #save: (token: ResumeToken) => Promise<void>;

  constructor(save: (token: ResumeToken) => Promise<void>) {
    this.#save = save;
  }

  /**
   * When idle, moves the checkpoint to the stream's post-batch token so a
   * restart rescans little. The token is read while nothing is queued: every
   * change it covers has been committed.
   */
  async whenIdle(queue: EventQueue | undefined): Promise<void> {
    if (!queue || queue.pending > 0) return;
    const token = queue.resumeToken;
    if (!token || JSON.stringify(token) === JSON.stringify(this.token)) return;
    await this.nowAndThen(token);
  }

  /** Moves the checkpoint past events that changed nothing here, at most once a minute. */
  async nowAndThen(token: unknown): Promise<void> {
    if (Date.now() - this.#savedAt < IDLE_CHECKPOINT_MS) return;
    await this.#save(token as ResumeToken);
    this.committed(token);
  }

  /** The checkpoint now holds `token` (written with a batch's changes, or just now). */
  committed(token: unknown): void {
    this.token = token;
    this.#savedAt = Date.now();
  }
}
