/**
 * A small browser client for gazeserve's WebSocket stream, `WS /v1/stream`.
 *
 * Frames go out as binary messages (JPEG, PNG or WebP), each preceded by a
 * `{"type": "frame", "frame_id", "timestamp_ms"}` text message; the server answers every frame
 * exactly once, with a `result`, a `dropped` or an `error` carrying its `frame_id`. The client
 * keeps at most `maxInFlight` frames unanswered (backpressure): `sendFrame` refuses a frame
 * while the window is full, so a slow server or network never builds a queue of stale frames.
 *
 * Control messages (`config`, `ping`, `calibration`) return promises settled by the server's
 * answer. The server handles text messages in order, so answers come in the order asked; an
 * `error` without a `frame_id` is the answer to the oldest control message still waiting.
 *
 * No dependencies, no build step:
 *
 * ```js
 * import { GazeClient } from "/static/gazeserve.js";
 * const client = new GazeClient({
 *   url: "http://127.0.0.1:8000",
 *   onResult: (result, info) => console.log(result.faces[0]?.gaze, info.roundTripMs),
 * });
 * await client.connect();
 * await client.configure({ includeLandmarks: true });
 * canvas.toBlob((jpeg) => client.sendFrame(jpeg), "image/jpeg", 0.8);
 * ```
 *
 * @module gazeserve
 */

/** Frames sent and not yet answered, at most; 2 keeps the server busy without a backlog. */
export const DEFAULT_MAX_IN_FLIGHT = 2;

/** A frame unanswered this long no longer holds its place in the window (ms). */
export const DEFAULT_FRAME_TIMEOUT_MS = 5000;

/** How long a control message (config, ping, calibration) waits for its answer (ms). */
export const DEFAULT_CONTROL_TIMEOUT_MS = 10000;

/** How long a guided calibration shows each target (ms). */
export const DEFAULT_CALIBRATION_DWELL_MS = 1500;

/**
 * @typedef {object} FrameInfo
 * @property {number|string} frameId  The id the frame was sent with.
 * @property {number} roundTripMs  From `sendFrame` to the answer's arrival, milliseconds.
 */

/**
 * @typedef {object} ServerError
 * @property {string} code  Stable machine-readable code (`invalid_message`, `corrupt_image`, ...).
 * @property {string} message  One human-readable line.
 * @property {number|string} [frameId]  Present when the error answers a frame.
 */

/**
 * @typedef {object} CalibrationResult
 * @property {"done"} state
 * @property {number} error_px  Accuracy of the fit on held-back points, CSS pixels.
 * @property {number} error_deg  The same as a visual angle, degrees.
 * @property {number} points  Targets the fit used.
 */

/**
 * @typedef {object} GazeClientOptions
 * @property {string} [url]  The server: `http(s)://host:port`, `ws(s)://host:port`, or a full
 *     `.../v1/stream` URL. Default: the origin the page was loaded from.
 * @property {number} [maxInFlight]  Unanswered frames allowed at once (default 2).
 * @property {number} [frameTimeoutMs]  See `DEFAULT_FRAME_TIMEOUT_MS`.
 * @property {number} [controlTimeoutMs]  See `DEFAULT_CONTROL_TIMEOUT_MS`.
 * @property {string} [apiKey]  The service's API key, when it has keys (`GAZE_API_KEYS`): sent
 *     as the first message, `{"type": "auth", "api_key"}` (browsers cannot set headers on a
 *     WebSocket). May be changed between connections (`client.options.apiKey = ...`).
 * @property {() => void} [onAuthRequired]  The server wants a key and none was given.
 * @property {(result: object, info: FrameInfo) => void} [onResult]  One schema v1 result
 *     (plus `frame_id`, `server_ms`, `wait_ms`).
 * @property {(frameIds: Array<number|string>, reason: string) => void} [onDropped]  Frames the
 *     server dropped unprocessed (`superseded`, `stale`, `queue_full`, ...).
 * @property {(event: object) => void} [onEvent]  `{"type": "event", "event": "blink" |
 *     "fixation" | "on_screen" | "off_screen", ...}` messages.
 * @property {(message: object) => void} [onCalibration]  Every `calibration` message.
 * @property {(error: ServerError) => void} [onError]  Every `error` message.
 * @property {() => void} [onOpen]  The socket opened.
 * @property {(info: {code: number, reason: string, wasClean: boolean}) => void} [onClose]
 *     The socket closed (not called when `connect` itself failed).
 */

/** An `error` answer of the server, or a control message nobody answered. */
export class GazeServerError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {number|string} [frameId]
   */
  constructor(code, message, frameId) {
    super(message);
    this.name = "GazeServerError";
    /** @type {string} */
    this.code = code;
    /** @type {number|string|undefined} */
    this.frameId = frameId;
  }
}

/** A calibration the server answered with `"state": "failed"`. */
export class CalibrationError extends Error {
  /** @param {object} answer  The server's calibration message. */
  constructor(answer) {
    super(answer.reason || answer.message || answer.error?.message || "calibration failed");
    this.name = "CalibrationError";
    /** @type {object} */
    this.answer = answer;
  }
}

/**
 * The stream endpoint for a server address.
 *
 * @param {string} [server]  `http(s)://host:port`, `ws(s)://host:port`, `host:port`, or a full
 *     WebSocket URL ending in `/v1/stream`. Default: the page's own origin.
 * @returns {string} A `ws:` or `wss:` URL of `/v1/stream`.
 */
export function streamUrl(server) {
  const base = server
    ? new URL(/^[a-z]+:\/\//i.test(server) ? server : `http://${server}`)
    : new URL(window.location.href);
  if (base.protocol === "http:") base.protocol = "ws:";
  else if (base.protocol === "https:") base.protocol = "wss:";
  if (!base.pathname.endsWith("/v1/stream")) base.pathname = "/v1/stream";
  base.search = "";
  base.hash = "";
  return base.toString();
}

/**
 * The classic 3 x 3 calibration grid, in row order from the top-left corner.
 *
 * @param {number} widthPx  Screen (viewport) width, CSS pixels.
 * @param {number} heightPx  Screen (viewport) height, CSS pixels.
 * @param {number} [marginFraction]  Distance of the outer targets from the edges, as a fraction
 *     of each side (default 0.1).
 * @returns {Array<[number, number]>} Nine `[x, y]` targets, CSS pixels from the top-left corner.
 */
export function calibrationGrid(widthPx, heightPx, marginFraction = 0.1) {
  const xs = [marginFraction, 0.5, 1 - marginFraction].map((f) => Math.round(f * widthPx));
  const ys = [marginFraction, 0.5, 1 - marginFraction].map((f) => Math.round(f * heightPx));
  return ys.flatMap((y) => xs.map((x) => /** @type {[number, number]} */ ([x, y])));
}

/**
 * Waits `ms` milliseconds, or rejects when `signal` aborts.
 *
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One connection to `WS /v1/stream`: frames with backpressure, results, control messages. */
export class GazeClient {
  /** @param {GazeClientOptions} [options] */
  constructor(options = {}) {
    this.options = {
      maxInFlight: DEFAULT_MAX_IN_FLIGHT,
      frameTimeoutMs: DEFAULT_FRAME_TIMEOUT_MS,
      controlTimeoutMs: DEFAULT_CONTROL_TIMEOUT_MS,
      ...options,
    };
    if (!Number.isInteger(this.options.maxInFlight) || this.options.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be a positive integer, got ${options.maxInFlight}`);
    }
    /** The WebSocket URL this client talks to. */
    this.url = streamUrl(options.url);
    /** @type {WebSocket|null} */
    this.socket = null;
    /** Counters since construction. */
    this.stats = { sent: 0, results: 0, dropped: 0, errors: 0, timedOut: 0, refused: 0 };
    /** @type {Map<number|string, number>} frame id -> performance.now() when sent */
    this._inFlight = new Map();
    /** @type {Array<{kind: string, resolve: Function, reject: Function, timer: number}>} */
    this._pending = [];
    this._nextFrameId = 0;
    /** The latest timestamp sent (frames, calibration targets): the stream's clock. */
    this._lastTimestampMs = -Infinity;
    /** While > 0, frames are held back (a calibration target waits for the frames before it). */
    this._holds = 0;
  }

  /** True while the socket is open. */
  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /** Frames sent and not yet answered. */
  get inFlight() {
    this._expireFrames();
    return this._inFlight.size;
  }

  /** Age of the oldest frame still unanswered, milliseconds (0 when none is). */
  get oldestInFlightMs() {
    let oldest = Infinity;
    for (const sentAt of this._inFlight.values()) oldest = Math.min(oldest, sentAt);
    return oldest === Infinity ? 0 : performance.now() - oldest;
  }

  /** True when `sendFrame` would send now. */
  get canSend() {
    return this.connected && this._holds === 0 && this.inFlight < this.options.maxInFlight;
  }

  /**
   * Opens the socket; with `apiKey`, authenticates first.
   *
   * @returns {Promise<void>} Resolves once open (and the key accepted); rejects with a
   *     `GazeServerError`: code `unreachable` when the server cannot be reached,
   *     `unauthorized` when it refused the key.
   */
  connect() {
    this.close();
    return new Promise((resolve, reject) => {
      let opened = false;
      const socket = new WebSocket(this.url);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      this._authWaiter = null;
      socket.addEventListener("open", () => {
        const done = () => {
          opened = true;
          this.options.onOpen?.();
          resolve();
        };
        if (!this.options.apiKey) {
          done();
          return;
        }
        this._authWaiter = done;
        socket.send(JSON.stringify({ type: "auth", api_key: this.options.apiKey }));
      });
      socket.addEventListener("message", (event) => {
        if (this.socket === socket) this._onMessage(event);
      });
      socket.addEventListener("close", (event) => {
        if (this.socket === socket) this._reset(`connection closed (${event.code})`);
        if (opened) {
          this.options.onClose?.({
            code: event.code, reason: event.reason, wasClean: event.wasClean,
          });
        } else if (event.code === 1008 && event.reason === "unauthorized") {
          reject(new GazeServerError("unauthorized", "the server refused the API key"));
        } else {
          reject(new GazeServerError("unreachable", `cannot connect to ${this.url}`));
        }
      });
    });
  }

  /** Closes the socket; unanswered frames are forgotten, waiting control messages rejected. */
  close() {
    const socket = this.socket;
    if (socket === null) return;
    this._reset("client closed the connection");
    this.socket = null;
    if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
      socket.close(1000, "client closed");
    }
  }

  /**
   * Sends one encoded frame, unless the window of frames in flight is full.
   *
   * @param {Blob|ArrayBuffer|ArrayBufferView} data  The encoded image.
   * @param {{timestampMs?: number}} [meta]  Capture time, milliseconds, on the clock of
   *     `performance.now()` (the default); the server's tracking, smoothing and calibration use
   *     it. Never earlier than the previous frame's or calibration target's: a stream's time
   *     only moves forward, so an earlier value is raised to that one.
   * @returns {number|null} The frame's id, or null when not sent (window full or not
   *     connected); a refused frame is counted in `stats.refused`.
   */
  sendFrame(data, meta = {}) {
    if (!this.canSend) {
      this.stats.refused += 1;
      return null;
    }
    const frameId = this._nextFrameId++;
    const timestampMs = Math.max(meta.timestampMs ?? performance.now(), this._lastTimestampMs);
    this._lastTimestampMs = timestampMs;
    this.socket.send(JSON.stringify({
      type: "frame", frame_id: frameId, timestamp_ms: Math.round(timestampMs * 1000) / 1000,
    }));
    this.socket.send(data);
    this._inFlight.set(frameId, performance.now());
    this.stats.sent += 1;
    return frameId;
  }

  /**
   * Changes the stream's options.
   *
   * @param {{includeLandmarks?: boolean, priority?: number}} config  `includeLandmarks`: results
   *     carry `faces[i].landmarks_px` (478 x 3); `priority`: 0-10, higher first under load.
   * @returns {Promise<object>} The server's `config` answer.
   */
  configure(config) {
    const message = { type: "config" };
    if (config.includeLandmarks !== undefined) message.include_landmarks = config.includeLandmarks;
    if (config.priority !== undefined) message.priority = config.priority;
    return this._control("config", message);
  }

  /** @returns {Promise<number>} The control round trip, milliseconds. */
  async ping() {
    const start = performance.now();
    await this._control("pong", { type: "ping" });
    return performance.now() - start;
  }

  /**
   * Starts a calibration; frames keep flowing during it.
   *
   * @param {{widthPx: number, heightPx: number}} screen  The area the targets are shown in
   *     (for a page: its viewport), CSS pixels. Screen points in later results use this space.
   * @returns {Promise<object>} The server's `{"state": "started"}` answer.
   */
  startCalibration(screen) {
    return this._control("calibration", {
      type: "calibration", action: "start",
      screen: { width_px: Math.round(screen.widthPx), height_px: Math.round(screen.heightPx) },
    });
  }

  /**
   * Tells the server the person now looks at `targetPx`; it collects features from the frames
   * that follow (skipping the first few hundred milliseconds, while the eyes move there).
   *
   * The target's time (`t_ms`) is on the frames' clock. Frames are held back until those sent
   * before are answered (one round trip at most), so every frame the server sees after the
   * target is from after it.
   *
   * @param {[number, number]} targetPx  `[x, y]` CSS pixels from the screen's top-left corner.
   * @param {{tMs?: number}} [options]  When the target appeared (default: now), on the clock
   *     of the frames' `timestampMs`.
   * @returns {Promise<object>} The server's `{"state": "target"}` answer.
   */
  async calibrationTarget(targetPx, options = {}) {
    let answer;
    this._holds += 1;
    try {
      await this._drain();
      const tMs = Math.max(options.tMs ?? performance.now(), this._lastTimestampMs);
      this._lastTimestampMs = tMs;
      answer = this._control("calibration", {
        type: "calibration", action: "target", target_px: [targetPx[0], targetPx[1]],
        t_ms: Math.round(tMs * 1000) / 1000,
      });
    } finally {
      this._holds -= 1;
    }
    return answer;
  }

  /**
   * Ends the calibration; the server fits it and, when it succeeds, results carry
   * `faces[0].gaze.screen_point_px` from then on.
   *
   * @returns {Promise<CalibrationResult>} Rejects with `CalibrationError` when the fit failed.
   */
  finishCalibration() {
    return this._control("calibration", { type: "calibration", action: "finish" });
  }

  /**
   * Abandons the calibration in progress; the stream keeps its previous calibration, if any.
   *
   * @returns {Promise<object>} The server's `{"state": "cancelled"}` answer.
   */
  cancelCalibration() {
    return this._control("calibration", { type: "calibration", action: "cancel" });
  }

  /**
   * A guided calibration: each target in turn, `dwellMs` each, then the fit.
   *
   * @param {object} run
   * @param {{widthPx: number, heightPx: number}} run.screen  See `startCalibration`.
   * @param {Array<[number, number]>} [run.points]  Default: `calibrationGrid` of the screen.
   * @param {number} [run.dwellMs]  How long each target is looked at (default 1500).
   * @param {(targetPx: [number, number]|null, index: number, count: number) => void}
   *     [run.onTarget]  Show the target (called before the server is told); null when done.
   * @param {AbortSignal} [run.signal]  Aborts the run (and cancels it on the server).
   * @returns {Promise<CalibrationResult>} Rejects with the signal's reason when aborted.
   */
  async runCalibration({ screen, points, dwellMs = DEFAULT_CALIBRATION_DWELL_MS, onTarget,
    signal }) {
    const targets = points ?? calibrationGrid(screen.widthPx, screen.heightPx);
    await this.startCalibration(screen);
    try {
      for (const [index, target] of targets.entries()) {
        signal?.throwIfAborted();
        onTarget?.(target, index, targets.length);
        await this.calibrationTarget(target);
        await sleep(dwellMs, signal);
      }
    } catch (error) {
      if (signal?.aborted && this.connected) await this.cancelCalibration().catch(() => {});
      throw error;
    } finally {
      onTarget?.(null, targets.length, targets.length);
    }
    return this.finishCalibration();
  }

  /** Resolves once no frame is in flight (or they timed out, or the socket closed). */
  async _drain() {
    while (this.connected && this.inFlight > 0) {
      await sleep(2);
    }
  }

  _control(kind, message) {
    if (!this.connected) {
      return Promise.reject(new GazeServerError("not_connected", "not connected to the server"));
    }
    return new Promise((resolve, reject) => {
      const entry = { kind, resolve, reject, timer: 0 };
      entry.timer = setTimeout(() => {
        this._pending = this._pending.filter((e) => e !== entry);
        reject(new GazeServerError("timeout", `no answer from the server to ${message.type}` +
          `${message.action ? ` ${message.action}` : ""} in ${this.options.controlTimeoutMs} ms`));
      }, this.options.controlTimeoutMs);
      this._pending.push(entry);
      this.socket.send(JSON.stringify(message));
    });
  }

  /** Settles the oldest waiting control message of `kind` (any kind when null). */
  _settle(kind, settle) {
    const index = this._pending.findIndex((e) => kind === null || e.kind === kind);
    if (index < 0) return;
    const [entry] = this._pending.splice(index, 1);
    clearTimeout(entry.timer);
    settle(entry);
  }

  _answered(frameIds) {
    let roundTripMs = NaN;
    for (const id of frameIds) {
      const sentAt = this._inFlight.get(id);
      if (sentAt !== undefined) {
        roundTripMs = performance.now() - sentAt;
        this._inFlight.delete(id);
      }
    }
    return roundTripMs;
  }

  _expireFrames() {
    const oldest = performance.now() - this.options.frameTimeoutMs;
    for (const [id, sentAt] of this._inFlight) {
      if (sentAt < oldest) {
        this._inFlight.delete(id);
        this.stats.timedOut += 1;
      }
    }
  }

  _reset(why) {
    this._inFlight.clear();
    const pending = this._pending;
    this._pending = [];
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject(new GazeServerError("disconnected", why));
    }
  }

  _onMessage(event) {
    if (typeof event.data !== "string") return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    const o = this.options;
    switch (message.type) {
      case "result": {
        const roundTripMs = this._answered([message.frame_id]);
        this.stats.results += 1;
        o.onResult?.(message, { frameId: message.frame_id, roundTripMs });
        break;
      }
      case "dropped":
        this._answered(message.frame_ids ?? []);
        this.stats.dropped += (message.frame_ids ?? []).length;
        o.onDropped?.(message.frame_ids ?? [], message.reason);
        break;
      case "error": {
        this.stats.errors += 1;
        const error = new GazeServerError(message.error?.code ?? "error",
          message.error?.message ?? "server error", message.frame_id);
        if (message.frame_id !== undefined) this._answered([message.frame_id]);
        else this._settle(null, (entry) => entry.reject(error));
        o.onError?.({ code: error.code, message: error.message, frameId: error.frameId });
        break;
      }
      case "event":
        o.onEvent?.(message);
        break;
      case "calibration":
        o.onCalibration?.(message);
        this._settle("calibration", (entry) => {
          if (message.state === "failed") entry.reject(new CalibrationError(message));
          else entry.resolve(message);
        });
        break;
      case "config":
      case "pong":
        this._settle(message.type, (entry) => entry.resolve(message));
        break;
      case "auth":
        if (message.status === "ok" && this._authWaiter) {
          const done = this._authWaiter;
          this._authWaiter = null;
          done();
        } else if (message.status === "required" && !this.options.apiKey) {
          o.onAuthRequired?.();
        }
        break;
      default:
        break;
    }
  }
}
