/**
 * The webcam demo page: camera -> JPEG frames -> gazeserve -> overlay, meters and calibration.
 *
 * API keys: when the server has keys (`GAZE_API_KEYS`), the page shows a key field; the key is
 * kept in this tab's sessionStorage (`gazeserve.apiKey`) and sent as the WebSocket's first
 * message, never in the URL.
 *
 * URL parameters (all optional): `server` (another gazeserve, e.g. `?server=http://host:8000`;
 * default the page's origin), `dwell_ms` (calibration time per target, default 1500),
 * `width` (largest frame width sent, default 640), `quality` (JPEG quality, default 0.8).
 *
 * The page's state is `window.gazeDemo` (status, last result, fps, round trip, counters,
 * calibration), which the browser tests read.
 *
 * Coordinates: results are in pixels of the frame as sent (unmirrored). The video and the
 * overlay canvas are mirrored together by CSS, so the overlay is drawn in frame pixels and
 * stays on the face; the screen gaze dot is in viewport CSS pixels and is never mirrored.
 */

import {
  CalibrationError,
  DEFAULT_CALIBRATION_DWELL_MS,
  GazeClient,
} from "./gazeserve.js";

// MediaPipe face mesh eye contours, each a closed loop: lower lid from the outer corner to the
// inner one, then the upper lid back (mediapipe/python/solutions/face_mesh_connections.py,
// FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE).
const RIGHT_EYE_CONTOUR = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160,
  161, 246];
const LEFT_EYE_CONTOUR = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387,
  388, 466];
const NOSE_TIP = 1;

const COLORS = {
  iris: "#00e5ff",
  contour: "#7cff6b",
  gaze: "#ffd400",
  box: "rgba(255, 255, 255, 0.35)",
  axes: ["#ff4d4d", "#4dff88", "#4d9dff"],
};

const UI_REFRESH_MS = 250;
const FPS_WINDOW_MS = 1000;
const ROUND_TRIP_SAMPLES = 30;
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 5000;
/** A frame unanswered this long: the connection is stuck; reconnect. */
const STALL_MS = 3000;

const KEY_STORAGE = "gazeserve.apiKey";

const params = new URLSearchParams(window.location.search);
const settings = {
  server: params.get("server") || undefined,
  dwellMs: positive(params.get("dwell_ms"), DEFAULT_CALIBRATION_DWELL_MS),
  maxWidth: positive(params.get("width"), 640),
  quality: Math.min(1, positive(params.get("quality"), 0.8)),
};

const $ = (id) => document.getElementById(id);
const ui = {
  message: $("message"), connection: $("connection"), stage: $("stage"), video: $("video"),
  overlay: $("overlay"), faceBadge: $("face-badge"), attentionBar: $("attention-bar"),
  attentionState: $("attention-state"), attentionScore: $("attention-score"),
  onScreen: $("on-screen"), gazeAngles: $("gaze-angles"), headAngles: $("head-angles"),
  blinks: $("blinks"), events: $("events"), quality: $("quality"), calibrationResult: $("calibration-result"),
  calibrate: $("calibrate"), pause: $("pause"), fps: $("fps"), cameraFps: $("camera-fps"),
  roundTrip: $("round-trip"), serverMs: $("server-ms"), pipelineMs: $("pipeline-ms"),
  counters: $("counters"), mirror: $("mirror"), landmarks: $("landmarks"),
  serverUrl: $("server-url"), calibrationLayer: $("calibration-layer"),
  calibrationDot: $("calibration-dot"), gazeDot: $("gaze-dot"),
  access: $("access"), accessNote: $("access-note"), keyForm: $("key-form"),
  apiKey: $("api-key"),
};
const overlayCtx = ui.overlay.getContext("2d");

const camera = { state: "starting", message: "", stream: null, settings: null };
const server = { state: "connecting", everConnected: false, stalled: false, keyNeeded: false };
const timing = { resultTimes: [], cameraTimes: [], roundTrips: [] };
const blinkTracker = { closed: false, local: 0, fromServer: 0 };
let encoder = null;
let encoding = false;
let calibrationAbort = null;

const client = new GazeClient({
  url: settings.server,
  apiKey: storedKey() || undefined,
  onAuthRequired: () => askForKey("This server asks for an API key."),
  onResult,
  onDropped: (ids) => { demo.counters.dropped += ids.length; },
  onError: (error) => {
    demo.counters.errors += 1;
    demo.lastError = error;
  },
  onEvent,
  onClose: (info) => {
    if (info.code === 1008 && info.reason === "unauthorized") {
      askForKey("The server refused this API key; enter another.");
      return;
    }
    if (server.keyNeeded) return;
    server.state = "lost";
    calibrationAbort?.abort(new Error("lost the connection to the server"));
    refreshStatus();
    connectLoop();
  },
});

/** Everything the page knows, for people in the console and for the browser tests. */
const demo = {
  status: "starting",
  message: "",
  server: client.url,
  lastResult: null,
  lastError: null,
  /** What the overlay shows now: frame id, frame size, iris centres (frame px). */
  drawn: null,
  fps: 0,
  cameraFps: 0,
  roundTripMs: null,
  serverMs: null,
  pipelineMs: null,
  encodeMs: null,
  frameSize: null,
  camera: null,
  paused: false,
  blinks: 0,
  events: {},
  quality: null,
  counters: { cameraFrames: 0, sent: 0, results: 0, faces: 0, dropped: 0, errors: 0,
    skipped: 0, skippedEncoding: 0, skippedInFlight: 0, overlayDraws: 0, stalls: 0 },
  calibration: { state: "none" },
  settings,
  client,
  pause: () => setPaused(true),
  resume: () => setPaused(false),
  calibrate: () => calibrate(),
};
window.gazeDemo = demo;

ui.serverUrl.textContent = client.url;
ui.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = ui.apiKey.value.trim();
  if (!key) return;
  try {
    sessionStorage.setItem(KEY_STORAGE, key);
  } catch {
    // storage refused (private mode): the key still works for this page
  }
  client.options.apiKey = key;
  ui.apiKey.value = "";
  server.keyNeeded = false;
  ui.access.hidden = true;
  server.state = "connecting";
  refreshStatus();
  connectLoop();
});
ui.calibrate.addEventListener("click", () => calibrate());
ui.pause.addEventListener("click", () => setPaused(!demo.paused));
ui.mirror.addEventListener("change", () => {
  ui.stage.classList.toggle("mirrored", ui.mirror.checked);
});
ui.landmarks.addEventListener("change", () => {
  if (!client.connected) return;
  client.configure({ includeLandmarks: ui.landmarks.checked }).catch(() => {});
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") calibrationAbort?.abort(new DOMException("cancelled", "AbortError"));
});
window.addEventListener("resize", () => showCalibration());
setInterval(refreshReadouts, UI_REFRESH_MS);
new ResizeObserver(sizeOverlay).observe(ui.stage);

startCamera();
connectLoop();

// ---------------------------------------------------------------- camera and capture

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    cameraFailed("camera_unavailable", window.isSecureContext
      ? "This browser offers no camera access (getUserMedia is missing)."
      : "Browsers allow the camera only on secure pages: open http://127.0.0.1:8000/ or " +
        "http://localhost:8000/ on this machine, or serve the page over HTTPS.");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
    });
  } catch (error) {
    cameraFailed(...describeCameraError(error));
    return;
  }
  camera.stream = stream;
  const [track] = stream.getVideoTracks();
  camera.settings = track.getSettings();
  demo.camera = { label: track.label, ...camera.settings };
  track.addEventListener("ended", () => {
    cameraFailed("camera_stopped", "The camera stopped (unplugged, or taken by another " +
      "application). Reload the page to start it again.");
  });
  ui.video.srcObject = stream;
  ui.video.addEventListener("resize", sizeCapture);
  try {
    await ui.video.play();
  } catch (error) {
    cameraFailed("camera_error", `The video could not start: ${error.message}`);
    return;
  }
  sizeCapture();
  camera.state = "ok";
  refreshStatus();
  scheduleVideoFrame();
}

/** @returns {[string, string]} A state code and a message a person can act on. */
function describeCameraError(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return ["camera_denied", "Camera access was refused. Allow the camera for this page " +
        "(the camera icon in the address bar, or the browser's site settings), then reload."];
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return ["camera_absent", "No camera was found. Connect a webcam, then reload the page."];
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return ["camera_busy", "The camera could not be started: another application may be " +
        "using it. Close that application, then reload."];
    default:
      return ["camera_error", `The camera could not be started (${error?.name}: ` +
        `${error?.message}).`];
  }
}

function cameraFailed(state, message) {
  camera.state = state;
  camera.message = message;
  refreshStatus();
}

function sizeCapture() {
  const { videoWidth, videoHeight } = ui.video;
  if (!videoWidth || !videoHeight) return;
  const width = Math.min(settings.maxWidth, videoWidth);
  const height = Math.round((videoHeight * width) / videoWidth);
  demo.frameSize = { width, height, cameraWidth: videoWidth, cameraHeight: videoHeight };
  ui.stage.style.aspectRatio = `${videoWidth} / ${videoHeight}`;
  const canvas = typeof OffscreenCanvas === "function"
    ? new OffscreenCanvas(width, height) : Object.assign(document.createElement("canvas"),
      { width, height });
  encoder = { canvas, ctx: canvas.getContext("2d"), width, height };
}

/** The overlay's backing store matches its size on screen in device pixels: crisp lines. */
function sizeOverlay() {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(ui.overlay.clientWidth * ratio));
  const height = Math.max(1, Math.round(ui.overlay.clientHeight * ratio));
  if (ui.overlay.width === width && ui.overlay.height === height) return;
  ui.overlay.width = width;
  ui.overlay.height = height;
  if (demo.lastResult) drawOverlay(demo.lastResult);
}

function scheduleVideoFrame() {
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    ui.video.requestVideoFrameCallback(onVideoFrame);
  } else {
    requestAnimationFrame((now) => onVideoFrame(now));
  }
}

/** Once per camera frame: encode and send it when the client has room, else skip it. */
function onVideoFrame(now) {
  scheduleVideoFrame();
  if (camera.state !== "ok") return;
  demo.counters.cameraFrames += 1;
  timing.cameraTimes.push(now);
  if (demo.paused || !client.connected) return;
  if (encoding || !client.canSend || encoder === null) {
    demo.counters.skipped += 1;
    if (encoding) demo.counters.skippedEncoding += 1;
    else if (encoder !== null) demo.counters.skippedInFlight += 1;
    return;
  }
  sendFrame(now);
}

async function sendFrame(timestampMs) {
  encoding = true;
  const started = performance.now();
  try {
    const { canvas, ctx, width, height } = encoder;
    ctx.drawImage(ui.video, 0, 0, width, height);
    const options = { type: "image/jpeg", quality: settings.quality };
    const jpeg = canvas.convertToBlob
      ? await canvas.convertToBlob(options)
      : await new Promise((resolve) => canvas.toBlob(resolve, options.type, options.quality));
    demo.encodeMs = performance.now() - started;
    if (jpeg && client.sendFrame(jpeg, { timestampMs }) !== null) demo.counters.sent += 1;
  } catch (error) {
    demo.lastError = { code: "encode_failed", message: String(error) };
  } finally {
    encoding = false;
  }
}

function setPaused(paused) {
  demo.paused = paused;
  ui.pause.textContent = paused ? "Resume" : "Pause";
  refreshStatus();
}

// ---------------------------------------------------------------- server

/** The key this tab stored, if any. */
function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

/** Stops connecting and shows the key field, until a key is entered. */
function askForKey(note) {
  server.keyNeeded = true;
  server.state = "key_required";
  client.options.apiKey = undefined;
  try {
    sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // nothing stored
  }
  ui.accessNote.textContent = note;
  ui.access.hidden = false;
  client.close();
  refreshStatus();
  ui.apiKey.focus();
}

async function connectLoop() {
  let delayMs = RECONNECT_MIN_MS;
  for (;;) {
    if (server.keyNeeded) return;
    try {
      await client.connect();
      if (server.keyNeeded) return;
      break;
    } catch (error) {
      if (error?.code === "unauthorized") {
        askForKey("The server refused this API key; enter another.");
        return;
      }
      if (server.keyNeeded) return;
      server.state = server.everConnected ? "lost" : "unreachable";
      refreshStatus();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 1.5, RECONNECT_MAX_MS);
    }
  }
  server.state = "connected";
  server.everConnected = true;
  server.stalled = false;
  refreshStatus();
  try {
    await client.configure({ includeLandmarks: ui.landmarks.checked });
  } catch (error) {
    demo.lastError = { code: error.code ?? "config_failed", message: error.message };
  }
}

function onResult(result, info) {
  const now = performance.now();
  demo.lastResult = result;
  demo.counters.results += 1;
  timing.resultTimes.push(now);
  if (Number.isFinite(info.roundTripMs)) {
    timing.roundTrips.push(info.roundTripMs);
    if (timing.roundTrips.length > ROUND_TRIP_SAMPLES) timing.roundTrips.shift();
  }
  demo.serverMs = result.server_ms;
  demo.pipelineMs = result.timings_ms?.total ?? null;
  const face = result.faces?.[0] ?? null;
  if (face) {
    demo.counters.faces += 1;
    trackBlinks(face);
    demo.quality = face.quality ?? null;
  }
  drawOverlay(result);
  showGazeDot(face);
}

function onEvent(event) {
  demo.events[event.event] = (demo.events[event.event] ?? 0) + 1;
  if (event.event === "blink") blinkTracker.fromServer += 1;
}

/** Blinks as the server reports them; until it sends blink events, closed-to-open changes. */
function trackBlinks(face) {
  const closed = Boolean(face.eyes?.left?.closed && face.eyes?.right?.closed);
  if (blinkTracker.closed && !closed) blinkTracker.local += 1;
  blinkTracker.closed = closed;
  demo.blinks = blinkTracker.fromServer > 0 ? blinkTracker.fromServer : blinkTracker.local;
}

// ---------------------------------------------------------------- status and readouts

function refreshStatus() {
  let status;
  let message;
  let kind = "error";
  if (camera.state !== "ok" && camera.state !== "starting") {
    status = camera.state;
    message = camera.message;
  } else if (server.state === "unreachable" || server.state === "lost") {
    status = server.state === "lost" ? "server_lost" : "server_unreachable";
    if (server.state === "unreachable") {
      message = `Cannot reach the gazeserve server at ${client.url}. Is it running ` +
        "(make run)? Retrying…";
    } else if (server.stalled) {
      message = `The gazeserve server stopped answering frames for ${STALL_MS / 1000} s; ` +
        "reconnecting…";
    } else {
      message = `Lost the connection to the gazeserve server at ${client.url}; reconnecting…`;
    }
  } else if (server.state === "key_required") {
    status = "key_required";
    kind = "info";
    message = "This server needs an API key: enter it in the panel.";
  } else if (camera.state === "starting") {
    status = "starting";
    kind = "info";
    message = "Starting: asking for the camera… (allow it when the browser asks)";
  } else if (server.state !== "connected") {
    status = "connecting";
    kind = "info";
    message = `Connecting to ${client.url}…`;
  } else if (demo.paused) {
    status = "paused";
    kind = "info";
    message = "Paused: no frames are sent.";
  } else {
    status = "running";
    kind = "ok";
    message = "Live: look around, blink, turn your head.";
  }
  demo.status = status;
  demo.message = message;
  ui.message.textContent = message;
  ui.message.className = `message ${kind}`;
  ui.connection.dataset.state = server.state;
  ui.connection.textContent = {
    connecting: "connecting…", connected: "connected", unreachable: "server unreachable",
    lost: "reconnecting…", key_required: "API key needed",
  }[server.state];
  const live = status === "running" || status === "paused";
  ui.calibrate.disabled = !live || demo.calibration.state === "running";
  ui.pause.disabled = !live;
}

function refreshReadouts() {
  const now = performance.now();
  checkStall();
  demo.fps = countSince(timing.resultTimes, now - FPS_WINDOW_MS) * (1000 / FPS_WINDOW_MS);
  demo.cameraFps = countSince(timing.cameraTimes, now - FPS_WINDOW_MS) * (1000 / FPS_WINDOW_MS);
  demo.roundTripMs = timing.roundTrips.length ? median(timing.roundTrips) : null;
  ui.fps.textContent = demo.fps.toFixed(1);
  ui.cameraFps.textContent = demo.cameraFps.toFixed(0);
  ui.roundTrip.textContent = fixed(demo.roundTripMs, 1);
  ui.serverMs.textContent = fixed(demo.serverMs, 1);
  ui.pipelineMs.textContent = fixed(demo.pipelineMs, 1);
  const c = demo.counters;
  ui.counters.textContent = `${c.sent} sent · ${c.results} results · ${c.faces} with a face · ` +
    `${c.dropped} dropped · ${c.errors} errors`;

  const face = demo.lastResult?.faces?.[0] ?? null;
  ui.faceBadge.hidden = demo.lastResult === null || face !== null;
  const attention = face?.attention ?? { score: 0, state: demo.lastResult ? "no_face" : null };
  ui.attentionBar.style.width = `${Math.round(100 * attention.score)}%`;
  ui.attentionBar.dataset.state = attention.state ?? "";
  ui.attentionState.textContent = attention.state ? attention.state.replace("_", " ") : "—";
  ui.attentionScore.textContent = face ? attention.score.toFixed(2) : "—";
  ui.onScreen.textContent = face ? (face.on_screen ? "yes" : "no") : "—";
  ui.gazeAngles.textContent = face
    ? `${signed(face.gaze.yaw_deg)}°, ${signed(face.gaze.pitch_deg)}°` : "—";
  ui.headAngles.textContent = face ? `${signed(face.head_pose_deg.yaw)}°, ` +
    `${signed(face.head_pose_deg.pitch)}°, ${signed(face.head_pose_deg.roll)}°` : "—";
  ui.blinks.textContent = String(demo.blinks);
  const events = Object.entries(demo.events).filter(([name]) => name !== "blink");
  ui.events.textContent = events.length
    ? events.map(([name, count]) => `${name.replace("_", " ")} ${count}`).join(" · ") : "—";
  const q = demo.quality;
  ui.quality.textContent = q
    ? `${fixed(q.confidence, 2)}${q.flags?.length ? ` (${q.flags.join(", ")})` : ""}` : "—";
}

/** A connection whose frames go unanswered is stuck (a broken stream on the server): renew it. */
function checkStall() {
  if (server.state !== "connected" || client.oldestInFlightMs < STALL_MS) return;
  server.stalled = true;
  demo.counters.stalls += 1;
  client.close();
}

function countSince(times, since) {
  while (times.length && times[0] <= since) times.shift();
  return times.length;
}

// ---------------------------------------------------------------- overlay

/** Draws one result over the video, in the frame's pixels (CSS mirrors canvas and video). */
function drawOverlay(result) {
  const ctx = overlayCtx;
  const { width, height } = ui.overlay;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const face = result.faces?.[0];
  if (!face || !result.frame?.width) {
    demo.drawn = { frameId: result.frame_id, face: false, iris: null };
    return;
  }
  ctx.setTransform(width / result.frame.width, 0, 0, height / result.frame.height, 0, 0);
  const scale = Math.max(1, result.frame.width / 640);
  const [x0, y0, x1, y1] = face.box_px;
  const faceWidth = x1 - x0;
  ctx.lineJoin = "round";
  ctx.lineCap = "round";

  ctx.strokeStyle = COLORS.box;
  ctx.lineWidth = scale;
  ctx.strokeRect(x0, y0, faceWidth, y1 - y0);

  const landmarks = face.landmarks_px;
  if (landmarks && ui.landmarks.checked) {
    ctx.strokeStyle = COLORS.contour;
    ctx.lineWidth = 1.5 * scale;
    for (const contour of [RIGHT_EYE_CONTOUR, LEFT_EYE_CONTOUR]) {
      ctx.beginPath();
      contour.forEach((index, i) => {
        const [x, y] = landmarks[index];
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.closePath();
      ctx.stroke();
    }
  }

  const origin = landmarks ? landmarks[NOSE_TIP] : [(x0 + x1) / 2, (y0 + y1) / 2];
  drawHeadAxes(ctx, origin, face.head_pose_deg, 0.35 * faceWidth, scale);

  const irises = [face.eyes.right, face.eyes.left].filter((eye) => eye.iris_center_px);
  const gaze = direction(face.gaze.yaw_deg, face.gaze.pitch_deg);
  for (const eye of irises) {
    const [x, y] = eye.iris_center_px;
    // The gaze direction's projection: short when the person looks into the camera.
    arrow(ctx, x, y, x + faceWidth * gaze[0], y - faceWidth * gaze[1], COLORS.gaze, 2 * scale);
  }
  for (const eye of irises) {
    const [x, y] = eye.iris_center_px;
    const radius = eye.iris_radius_px ?? 0.05 * faceWidth;
    ctx.strokeStyle = COLORS.iris;
    ctx.lineWidth = 1.5 * scale;
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.fillStyle = COLORS.iris;
    ctx.beginPath();
    ctx.arc(x, y, Math.max(2 * scale, 0.3 * radius), 0, 2 * Math.PI);
    ctx.fill();
  }
  demo.counters.overlayDraws += 1;
  demo.drawn = {
    frameId: result.frame_id,
    face: true,
    frame: { width: result.frame.width, height: result.frame.height },
    iris: irises.map((eye) => eye.iris_center_px),
  };
}

/**
 * The head's axes (x toward the subject's left, y up, z out of the face) turned by the head
 * pose and projected on the image: `R = Ry(yaw) Rx(-pitch) Rz(roll)` in the viewer frame
 * (x right, y up, z toward the camera), as `gazeserve.gaze.conventions` states.
 */
function drawHeadAxes(ctx, [ox, oy], pose, length, scale) {
  const rad = Math.PI / 180;
  const [cy, sy] = [Math.cos(pose.yaw * rad), Math.sin(pose.yaw * rad)];
  const [cp, sp] = [Math.cos(-pose.pitch * rad), Math.sin(-pose.pitch * rad)];
  const [cr, sr] = [Math.cos(pose.roll * rad), Math.sin(pose.roll * rad)];
  const Ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]];
  const Rx = [[1, 0, 0], [0, cp, -sp], [0, sp, cp]];
  const Rz = [[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]];
  const R = matmul(matmul(Ry, Rx), Rz);
  for (let axis = 0; axis < 3; axis += 1) {
    // Column `axis` of R; image y runs down, the viewer's y up.
    const [vx, vy] = [R[0][axis], R[1][axis]];
    arrow(ctx, ox, oy, ox + length * vx, oy - length * vy, COLORS.axes[axis], 2 * scale);
  }
}

/** Gaze as (x right, y up) of the unit direction (cos p sin y, sin p, cos p cos y). */
function direction(yawDeg, pitchDeg) {
  const rad = Math.PI / 180;
  return [Math.cos(pitchDeg * rad) * Math.sin(yawDeg * rad), Math.sin(pitchDeg * rad)];
}

function arrow(ctx, x0, y0, x1, y1, color, lineWidth) {
  const length = Math.hypot(x1 - x0, y1 - y0);
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = lineWidth;
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
  if (length < 4 * lineWidth) return;
  const angle = Math.atan2(y1 - y0, x1 - x0);
  const head = 3 * lineWidth;
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - head * Math.cos(angle - 0.45), y1 - head * Math.sin(angle - 0.45));
  ctx.lineTo(x1 - head * Math.cos(angle + 0.45), y1 - head * Math.sin(angle + 0.45));
  ctx.closePath();
  ctx.fill();
}

function matmul(A, B) {
  return A.map((row) => B[0].map((_, j) => row.reduce((sum, a, k) => sum + a * B[k][j], 0)));
}

// ---------------------------------------------------------------- screen point, calibration

/** The dot where the person looks (viewport CSS px), once the server has a calibration. */
function showGazeDot(face) {
  const point = face?.gaze?.screen_point_px;
  if (!point || demo.calibration.state === "running") {
    ui.gazeDot.hidden = true;
    return;
  }
  const x = clamp(point[0], 0, window.innerWidth);
  const y = clamp(point[1], 0, window.innerHeight);
  ui.gazeDot.hidden = false;
  ui.gazeDot.classList.toggle("off", !face.on_screen);
  ui.gazeDot.style.transform = `translate(${x}px, ${y}px)`;
  demo.screenPointPx = [x, y];
}

async function calibrate() {
  if (demo.calibration.state === "running" || !client.connected) return;
  const screen = { widthPx: window.innerWidth, heightPx: window.innerHeight };
  calibrationAbort = new AbortController();
  demo.calibration = { state: "running", index: 0, count: 0, targetsShown: 0, screen };
  ui.gazeDot.hidden = true;
  ui.calibrationLayer.hidden = false;
  refreshStatus();
  try {
    const answer = await client.runCalibration({
      screen,
      dwellMs: settings.dwellMs,
      signal: calibrationAbort.signal,
      onTarget: (target, index, count) => showTarget(target, index, count),
    });
    demo.calibration = { state: "done", errorPx: answer.error_px, errorDeg: answer.error_deg,
      points: answer.points, targetsShown: demo.calibration.targetsShown, screen };
  } catch (error) {
    demo.calibration = error?.name === "AbortError"
      ? { state: "cancelled", targetsShown: demo.calibration.targetsShown, screen }
      : { state: "failed", message: describeCalibrationError(error),
        targetsShown: demo.calibration.targetsShown, screen };
  } finally {
    calibrationAbort = null;
    ui.calibrationLayer.hidden = true;
    showCalibration();
    refreshStatus();
  }
}

function describeCalibrationError(error) {
  if (error instanceof CalibrationError) return error.message;
  if (error?.code === "invalid_message" || error?.code === "timeout") {
    return `this server does not support calibration (it answered: ${error.message})`;
  }
  return error?.message ?? String(error);
}

function showTarget(target, index, count) {
  demo.calibration.index = index;
  demo.calibration.count = count;
  demo.calibration.target = target;
  const dot = ui.calibrationDot;
  if (target === null) {
    dot.hidden = true;
    return;
  }
  demo.calibration.targetsShown += 1;
  dot.hidden = false;
  dot.style.left = `${target[0]}px`;
  dot.style.top = `${target[1]}px`;
  dot.style.setProperty("--dwell", `${settings.dwellMs}ms`);
  // Restart the shrinking animation for the new target.
  dot.classList.remove("active");
  void dot.offsetWidth;
  dot.classList.add("active");
}

function showCalibration() {
  const c = demo.calibration;
  let text;
  if (c.state === "done") {
    text = Number.isFinite(c.errorPx) && Number.isFinite(c.errorDeg)
      ? `Calibrated on ${c.points} points: accurate to about ${Math.round(c.errorPx)} px / ` +
        `${c.errorDeg.toFixed(1)}° (measured on held-back points).`
      : "Calibrated; the server measured no accuracy for this fit.";
    text += " The dot shows where you look.";
    if (c.screen.widthPx !== window.innerWidth || c.screen.heightPx !== window.innerHeight) {
      text += " The window changed size since: calibrate again.";
    }
  } else if (c.state === "failed") {
    text = `Calibration failed: ${c.message}.`;
  } else if (c.state === "cancelled") {
    text = "Calibration cancelled. The page shows the gaze direction only.";
  } else {
    return;
  }
  ui.calibrationResult.textContent = text;
  ui.calibrationResult.dataset.state = c.state;
}

// ---------------------------------------------------------------- small helpers

function positive(text, fallback) {
  const value = Number(text);
  return text !== null && Number.isFinite(value) && value > 0 ? value : fallback;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function fixed(value, digits) {
  return value === null || value === undefined || !Number.isFinite(value)
    ? "—" : value.toFixed(digits);
}

function signed(value) {
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(1)}`;
}

function clamp(value, lo, hi) {
  return Math.min(hi, Math.max(lo, value));
}
