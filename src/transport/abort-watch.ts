/**
 * The abort of one connect, without an AbortSignal where none is needed.
 *
 * A connect passes through several stages (TCP, TLS, a proxy, the upgrade request), each of which
 * must stop when the connect is aborted (timeout, the caller's signal, the session closing). An
 * AbortController and EventTarget listeners on its signal cost a few µs per connect (the signal
 * is an EventTarget built with a prototype swap; each listener is validated and wrapped). masq's
 * own stages need only what {@link AbortWatch} describes, which {@link ConnectAbort} provides with
 * a plain array of callbacks; a real AbortSignal is made only when a stage needs one (Node's and
 * masq's TLS engines, HTTP/2), and then follows the same abort.
 */

/** What a connect stage needs of an AbortSignal (an AbortSignal is one). */
export interface AbortWatch {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** One connect's abort; see the module comment. Listeners run once, in order, when it aborts. */
export class ConnectAbort implements AbortWatch {
  #aborted = false;
  #reason: unknown = undefined;
  #listeners: Array<() => void> | undefined;
  #controller: AbortController | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** A real AbortSignal following this abort (made on first use; already aborted if this is). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** The AbortSignal if one was made, else undefined (nothing made one wait on it). */
  get madeSignal(): AbortSignal | undefined {
    return this.#controller?.signal;
  }

  /** As AbortSignal's: `listener` runs once on abort (`once` or not); never if added after it. */
  addEventListener(_type: "abort", listener: () => void, _options?: { once?: boolean }): void {
    if (this.#aborted) return;
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const list = this.#listeners;
    if (list === undefined) return;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  }

  /** Aborts once with `reason`: the made signal first, then every listener. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const list = this.#listeners;
    this.#listeners = undefined;
    if (list !== undefined) for (const listener of list) listener();
  }
}

/** A real AbortSignal for `watch`: itself when it is one, else its {@link ConnectAbort.signal}. */
export function abortSignalOf(watch: AbortWatch): AbortSignal {
  return watch instanceof ConnectAbort ? watch.signal : (watch as AbortSignal);
}
