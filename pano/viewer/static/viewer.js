// pano view: a WebGL2 / WebXR viewer for equirectangular photospheres and 360 videos.
//
// Rendering: one full-screen triangle; the fragment shader turns each pixel into a ray and looks
// the ray up in the equirect (no sphere mesh: no pinch at the poles, no seam). Texture derivatives
// come from a continuous longitude, so the mip level does not jump at +-180 degrees.
//
// Convention (shared with the rest of pano): column i of a W-wide equirect is at longitude
// ((i + 0.5) / W - 0.5) * 360 deg, lon 0 at the image centre, +lon to the right; latitude +90 at the
// top. WebGL/WebXR world: x right, y up, -z forward; pano direction = (x, y, -z).
//
// URL hash: #yaw=DEG&pitch=DEG&fov=DEG&mix=0..1&item=N (fov across the narrower side of the window).
"use strict";

(() => {
  const DEG = Math.PI / 180;
  const FOV_MIN = 5, FOV_MAX = 130, FOV_DEFAULT = 90;
  // Tiled spheres: at most this many bytes of tile textures (mip levels included), well under what a
  // phone-class GPU gives a page; level 0 (six tiles) always stays.
  const TILE_BUDGET = 256 * 1024 * 1024, TILE_FETCHES = 4;
  let tileBudget = TILE_BUDGET;
  // Every texture the page holds, in bytes (mip levels included): tiles, whole images, video frames,
  // the VR panel. Kept for the check that the page stays within a phone-class GPU's memory.
  const texBytes = new Map();
  function countTexture(tex, w, h, mips) { texBytes.set(tex, Math.round(w * h * 4 * (mips ? 4 / 3 : 1))); }
  function deleteTexture(tex) { texBytes.delete(tex); gl.deleteTexture(tex); }
  const BACKGROUND = [0.16, 0.17, 0.19];
  const $ = (id) => document.getElementById(id);
  const svg = (body) => `<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">${body}</svg>`;
  const ICON = {
    play: svg('<path d="M8 5v14l11-7z" fill="currentColor"/>'),
    pause: svg('<path d="M6 5h4v14H6zM14 5h4v14h-4z" fill="currentColor"/>'),
    sound: svg('<path d="M4 9v6h4l5 4V5L8 9z" fill="currentColor"/><path d="M16 8.5a5 5 0 0 1 0 7M18.5 6a8.5 8.5 0 0 1 0 12" stroke="currentColor" stroke-width="2" fill="none"/>'),
    muted: svg('<path d="M4 9v6h4l5 4V5L8 9z" fill="currentColor"/><path d="M16 9l6 6M22 9l-6 6" stroke="currentColor" stroke-width="2"/>'),
    fullscreen: svg('<path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5" stroke="currentColor" stroke-width="2" fill="none"/>'),
  };

  // ---------------------------------------------------------------- small matrix helpers
  // 4x4 and 3x3 matrices are column-major Float32Arrays, as WebGL and WebXR use them.
  function invert4(m) {
    const a00 = m[0], a01 = m[1], a02 = m[2], a03 = m[3];
    const a10 = m[4], a11 = m[5], a12 = m[6], a13 = m[7];
    const a20 = m[8], a21 = m[9], a22 = m[10], a23 = m[11];
    const a30 = m[12], a31 = m[13], a32 = m[14], a33 = m[15];
    const b00 = a00 * a11 - a01 * a10, b01 = a00 * a12 - a02 * a10, b02 = a00 * a13 - a03 * a10;
    const b03 = a01 * a12 - a02 * a11, b04 = a01 * a13 - a03 * a11, b05 = a02 * a13 - a03 * a12;
    const b06 = a20 * a31 - a21 * a30, b07 = a20 * a32 - a22 * a30, b08 = a20 * a33 - a23 * a30;
    const b09 = a21 * a32 - a22 * a31, b10 = a21 * a33 - a23 * a31, b11 = a22 * a33 - a23 * a32;
    let det = b00 * b11 - b01 * b10 + b02 * b09 + b03 * b08 - b04 * b07 + b05 * b06;
    if (!det) return null;
    det = 1.0 / det;
    return new Float32Array([
      (a11 * b11 - a12 * b10 + a13 * b09) * det, (a02 * b10 - a01 * b11 - a03 * b09) * det,
      (a31 * b05 - a32 * b04 + a33 * b03) * det, (a22 * b04 - a21 * b05 - a23 * b03) * det,
      (a12 * b08 - a10 * b11 - a13 * b07) * det, (a00 * b11 - a02 * b08 + a03 * b07) * det,
      (a32 * b02 - a30 * b05 - a33 * b01) * det, (a20 * b05 - a22 * b02 + a23 * b01) * det,
      (a10 * b10 - a11 * b08 + a13 * b06) * det, (a01 * b08 - a00 * b10 - a03 * b06) * det,
      (a30 * b04 - a31 * b02 + a33 * b00) * det, (a21 * b02 - a20 * b04 - a23 * b00) * det,
      (a11 * b07 - a10 * b09 - a12 * b06) * det, (a00 * b09 - a01 * b07 + a02 * b06) * det,
      (a31 * b01 - a30 * b03 - a32 * b00) * det, (a20 * b03 - a21 * b01 + a22 * b00) * det,
    ]);
  }
  function mul3(a, b) {
    const o = new Float32Array(9);
    for (let c = 0; c < 3; c++)
      for (let r = 0; r < 3; r++)
        o[c * 3 + r] = a[r] * b[c * 3] + a[3 + r] * b[c * 3 + 1] + a[6 + r] * b[c * 3 + 2];
    return o;
  }
  function rotY(rad) { const c = Math.cos(rad), s = Math.sin(rad); return new Float32Array([c, 0, -s, 0, 1, 0, s, 0, c]); }
  function rotX(rad) { const c = Math.cos(rad), s = Math.sin(rad); return new Float32Array([1, 0, 0, 0, c, s, 0, -s, c]); }
  function mul4(a, b) {
    const o = new Float32Array(16);
    for (let c = 0; c < 4; c++)
      for (let r = 0; r < 4; r++)
        o[c * 4 + r] = a[r] * b[c * 4] + a[4 + r] * b[c * 4 + 1] + a[8 + r] * b[c * 4 + 2] + a[12 + r] * b[c * 4 + 3];
    return o;
  }
  function rot3of4(m) { return new Float32Array([m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]]); }
  function quatToMat3(x, y, z, w) {
    return new Float32Array([
      1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w),
      2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w),
      2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y),
    ]);
  }
  function quatMul(a, b) {
    return [
      a[0] * b[3] + a[3] * b[0] + a[1] * b[2] - a[2] * b[1],
      a[1] * b[3] + a[3] * b[1] + a[2] * b[0] - a[0] * b[2],
      a[2] * b[3] + a[3] * b[2] + a[0] * b[1] - a[1] * b[0],
      a[3] * b[3] - a[0] * b[0] - a[1] * b[1] - a[2] * b[2],
    ];
  }
  // Perspective projection whose narrower side spans fovDeg.
  function perspective(fovDeg, aspect) {
    const t = Math.tan(0.5 * fovDeg * DEG);
    const tx = aspect >= 1 ? t * aspect : t, ty = aspect >= 1 ? t : t / aspect;
    const n = 0.1, f = 10;
    return new Float32Array([1 / tx, 0, 0, 0, 0, 1 / ty, 0, 0, 0, 0, (f + n) / (n - f), -1, 0, 0, (2 * f * n) / (n - f), 0]);
  }
  // Level world -> photo frame, in pano axes (x right, y up, z forward), column-major. GPano: the
  // photo's centre lies pitchDeg above the horizon, and its horizon turns rollDeg counter-clockwise
  // in the image. Photo -> world is Rx(pitch) * Rz(-roll) (roll about the camera's forward axis,
  // then pitch); the shader needs the inverse, its transpose.
  function poseMatrix(pose) {
    if (!pose) return new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const p = (pose.pitch || 0) * DEG, r = -(pose.roll || 0) * DEG;
    const cp = Math.cos(p), sp = Math.sin(p), cr = Math.cos(r), sr = Math.sin(r);
    // photo -> world, row-major: Rx(p) = [[1,0,0],[0,cp,sp],[0,-sp,cp]] (forward tips up), Rz(r) = [[cr,-sr,0],[sr,cr,0],[0,0,1]]
    const m = [
      [cr, -sr, 0],
      [cp * sr, cp * cr, sp],
      [-sp * sr, -sp * cr, cp],
    ];
    // column-major of the transpose = row-major of m
    return new Float32Array([m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2]]);
  }
  // Camera-to-world rotation of a desktop view: yaw > 0 turns right, pitch > 0 looks up.
  function viewRotation(yawDeg, pitchDeg) { return mul3(rotY(-yawDeg * DEG), rotX(pitchDeg * DEG)); }
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const wrapDeg = (d) => ((((d + 180) % 360) + 360) % 360) - 180;

  // ---------------------------------------------------------------- shaders
  const VERT = `#version 300 es
out vec2 vNdc;
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2)) * 2.0 - 1.0;
  vNdc = p;
  gl_Position = vec4(p, 0.0, 1.0);
}`;
  const FRAG = `#version 300 es
precision highp float;
in vec2 vNdc;
uniform mat4 uInvProj;      // clip -> eye space of this view
uniform mat3 uView;         // eye -> world rotation (x right, y up, -z forward)
uniform sampler2D uTexA;
uniform sampler2D uTexB;
uniform vec4 uCropA;        // (left, top, width, height) of the texture on the full sphere, in [0, 1]
uniform vec4 uCropB;
uniform vec4 uEyeA;         // this eye's part of the frame: (s scale, s offset, t scale, t offset)
uniform vec4 uEyeB;
uniform float uMix;         // 0: A only, 1: B only
uniform vec3 uBackground;   // outside a partial photosphere
uniform mat3 uPose;         // level world -> the photo's own frame (GPano pose pitch and roll), pano axes
out vec4 outColor;
const float PI = 3.141592653589793;

vec3 sphereColor(sampler2D tex, vec4 crop, vec4 eye, vec2 uv, vec2 gx, vec2 gy) {
  float s = fract(uv.x - crop.x) / crop.z;
  float t = (uv.y - crop.y) / crop.w;
  if (s > 1.0 || t < 0.0 || t > 1.0) return uBackground;
  // Stereo: only this eye's half of the frame, and the filter never reaches into the other half.
  vec2 st = vec2(s, t) * eye.xz + eye.yw;
  vec2 halfTexel = 0.5 / vec2(textureSize(tex, 0));
  if (eye.x < 1.0) st.x = clamp(st.x, eye.y + halfTexel.x, eye.y + eye.x - halfTexel.x);
  if (eye.z < 1.0) st.y = clamp(st.y, eye.w + halfTexel.y, eye.w + eye.z - halfTexel.y);
  vec2 k = eye.xz / crop.zw;
  return textureGrad(tex, st, gx * k, gy * k).rgb;
}

void main() {
  vec4 near = uInvProj * vec4(vNdc, -1.0, 1.0);
  vec3 w = normalize(uView * (near.xyz / near.w));
  vec3 d = uPose * vec3(w.x, w.y, -w.z);       // pano axes: x right, y up, z forward = -world z
  float lon = atan(d.x, d.z);
  float lat = asin(clamp(d.y, -1.0, 1.0));
  vec2 uv = vec2(lon / (2.0 * PI) + 0.5, 0.5 - lat / PI);
  // Screen-space derivatives of u from whichever of two parametrisations is continuous here:
  // uv.x jumps at +-180 deg, fract(uv.x + 0.5) at 0 deg. Without this the jump selects the
  // coarsest mip level along the seam and draws a 1-px line.
  vec2 gx = dFdx(uv), gy = dFdy(uv);
  float u2 = fract(uv.x + 0.5);
  float gx2 = dFdx(u2), gy2 = dFdy(u2);
  if (abs(gx2) < abs(gx.x)) gx.x = gx2;
  if (abs(gy2) < abs(gy.x)) gy.x = gy2;
  vec3 c = sphereColor(uTexA, uCropA, uEyeA, uv, gx, gy);
  if (uMix > 0.0) c = mix(c, sphereColor(uTexB, uCropB, uEyeB, uv, gx, gy), uMix);
  outColor = vec4(c, 1.0);
}`;

  // Tiled spheres: each resident tile is one flat quad on its cube face, coarse levels first and
  // finer ones painted over them. Texture coordinates stop at the one-pixel gutter, which holds the
  // neighbouring tile's (or face's) pixels, so bilinear filtering is continuous across borders.
  const TILE_VERT = `#version 300 es
in vec2 aCorner;            // (0, 0) top-left .. (1, 1) bottom-right of the tile
uniform mat3 uFace;         // face camera -> photo frame (pano axes)
uniform vec4 uRect;         // (u left, v top, du, dv) of the tile on the face, face coordinates in [-1, 1]
uniform mat3 uPose;         // level world -> photo frame (pano axes)
uniform mat3 uWorldToEye;   // GL world -> eye
uniform mat4 uProj;
uniform float uTileSize;
out vec2 vTex;
void main() {
  vec3 p = uFace * vec3(uRect.x + aCorner.x * uRect.z, uRect.y - aCorner.y * uRect.w, 1.0);
  vec3 w = transpose(uPose) * p;
  gl_Position = uProj * vec4(uWorldToEye * vec3(w.x, w.y, -w.z), 1.0);
  vTex = (1.0 + aCorner * uTileSize) / (uTileSize + 2.0);
}`;
  const TILE_FRAG = `#version 300 es
precision highp float;
in vec2 vTex;
uniform sampler2D uTex;
uniform sampler2D uTexB;    // the same tile of the crossfade partner (same layout)
uniform float uMix;
out vec4 outColor;
void main() { outColor = vec4(mix(texture(uTex, vTex).rgb, texture(uTexB, vTex).rgb, uMix), 1.0); }`;
  // pano's cube faces F R B L U D: camera -> photo frame rotations Ry(yaw) Rx(pitch), column-major
  const FACES = [[0, 0], [90, 0], [180, 0], [-90, 0], [0, 90], [0, -90]].map(([yaw, pitch]) => {
    const cy = Math.cos(yaw * DEG), sy = Math.sin(yaw * DEG), cp = Math.cos(pitch * DEG), sp = Math.sin(pitch * DEG);
    // row-major Ry = [[cy,0,sy],[0,1,0],[-sy,0,cy]], Rx = [[1,0,0],[0,cp,sp],[0,-sp,cp]]
    const m = [[cy, -sy * sp, sy * cp], [0, cp, sp], [-sy, -cy * sp, cy * cp]];
    return new Float32Array([m[0][0], m[1][0], m[2][0], m[0][1], m[1][1], m[2][1], m[0][2], m[1][2], m[2][2]]);
  });

  // ---------------------------------------------------------------- state
  const state = {
    items: [], index: -1, yaw: 0, pitch: 0, fov: FOV_DEFAULT, mix: 0,
    a: null, b: null,            // {tex, crop, video?, width, height}
    dirty: true, loading: 0, frames: 0,
    keepView: false,             // the URL hash chose the first view: do not replace it with the item's
    gyro: null,                  // {rot: mat3, yawOffset} while device orientation drives the view
    xr: null,                    // {session, space, ...} during immersive-vr
  };
  const frameWaiters = [];
  const canvas = $("view");
  const message = $("message");
  let gl = null, prog = null, uni = null, blackTex = null, maxTex = 4096, aniso = null;
  let tileProg = null, tileUni = null, tileVao = null;

  function showMessage(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function initGL() {
    gl = canvas.getContext("webgl2", { antialias: false, alpha: false, depth: false, stencil: false, xrCompatible: true });
    if (!gl) {
      showMessage("This browser has no WebGL2: try a current Chrome, Firefox, Safari or the Quest browser.");
      return false;
    }
    const compile = (type, src) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, src);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error("shader: " + gl.getShaderInfoLog(s));
      return s;
    };
    prog = gl.createProgram();
    gl.attachShader(prog, compile(gl.VERTEX_SHADER, VERT));
    gl.attachShader(prog, compile(gl.FRAGMENT_SHADER, FRAG));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error("program: " + gl.getProgramInfoLog(prog));
    uni = {};
    for (const n of ["uInvProj", "uView", "uTexA", "uTexB", "uCropA", "uCropB", "uEyeA", "uEyeB", "uMix", "uBackground", "uPose"])
      uni[n] = gl.getUniformLocation(prog, n);
    const emptyVao = gl.createVertexArray();
    tileProg = gl.createProgram();
    gl.attachShader(tileProg, compile(gl.VERTEX_SHADER, TILE_VERT));
    gl.attachShader(tileProg, compile(gl.FRAGMENT_SHADER, TILE_FRAG));
    gl.bindAttribLocation(tileProg, 0, "aCorner");
    gl.linkProgram(tileProg);
    if (!gl.getProgramParameter(tileProg, gl.LINK_STATUS)) throw new Error("tile program: " + gl.getProgramInfoLog(tileProg));
    tileUni = {};
    for (const n of ["uFace", "uRect", "uPose", "uWorldToEye", "uProj", "uTileSize", "uTex", "uTexB", "uMix"]) tileUni[n] = gl.getUniformLocation(tileProg, n);
    tileVao = gl.createVertexArray();
    gl.bindVertexArray(tileVao);
    gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([0, 0, 0, 1, 1, 0, 1, 1]), gl.STATIC_DRAW);
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    gl.bindVertexArray(emptyVao);
    state.emptyVao = emptyVao;
    maxTex = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    aniso = gl.getExtension("EXT_texture_filter_anisotropic");
    blackTex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, blackTex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, 1, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array([0, 0, 0, 255]));
    canvas.addEventListener("webglcontextlost", (e) => { e.preventDefault(); showMessage("The graphics context was lost: reload the page."); });
    return true;
  }

  // ---------------------------------------------------------------- media
  function cropOf(geometry) {
    if (!geometry) return [0, 0, 1, 1];
    const g = geometry;
    return [g.crop_left / g.full_width, g.crop_top / g.full_height, g.crop_width / g.full_width, g.crop_height / g.full_height];
  }

  // The part of a frame one eye sees, as (s scale, s offset, t scale, t offset); eye 0 is the left
  // eye (also what a flat screen shows), eye 1 the right. Top-bottom: left eye on top.
  function eyeRect(stereo, eye) {
    if (stereo === "top-bottom") return [1, 0, 0.5, 0.5 * eye];
    if (stereo === "left-right") return [0.5, 0.5 * eye, 1, 0];
    return [1, 0, 1, 0];
  }

  function newTexture(fullWidth, mips) {
    const tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, fullWidth ? gl.REPEAT : gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, mips ? gl.LINEAR_MIPMAP_LINEAR : gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    if (aniso && mips) gl.texParameterf(gl.TEXTURE_2D, aniso.TEXTURE_MAX_ANISOTROPY_EXT, Math.min(8, gl.getParameter(aniso.MAX_TEXTURE_MAX_ANISOTROPY_EXT)));
    return tex;
  }

  async function loadImage(entry) {
    const img = new Image();
    img.decoding = "async";
    img.src = entry.url;
    try { await img.decode(); } catch (e) { throw new Error(`cannot load ${entry.name}`); }
    let source = img, w = img.naturalWidth, h = img.naturalHeight;
    if (w > maxTex || h > maxTex) {  // too big for this GPU: shrink, keeping the 2:1 shape
      const k = Math.min(maxTex / w, maxTex / h);
      w = Math.max(1, Math.floor(w * k)); h = Math.max(1, Math.floor(h * k));
      source = await createImageBitmap(img, { resizeWidth: w, resizeHeight: h, resizeQuality: "high" });
    }
    const crop = cropOf(entry.geometry);
    const tex = newTexture(crop[2] >= 1, true);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, source);
    gl.generateMipmap(gl.TEXTURE_2D);
    countTexture(tex, w, h, true);
    if (source.close) source.close();
    const stereo = entry.stereo || "mono";
    const eyeW = stereo === "left-right" ? w / 2 : w, eyeH = stereo === "top-bottom" ? h / 2 : h;
    if (!entry.geometry && Math.abs(eyeW - 2 * eyeH) > 2)
      console.warn(`${entry.name} is ${img.naturalWidth}x${img.naturalHeight} (${stereo}), not 2:1 per eye: shown stretched over the whole sphere`);
    return { tex, crop, stereo, pose: poseMatrix(entry.pose), video: null, width: img.naturalWidth, height: img.naturalHeight, name: entry.name };
  }

  function loadVideo(entry, muted) {
    const video = document.createElement("video");
    video.loop = true;
    video.playsInline = true;
    video.preload = "auto";
    video.muted = muted;
    video.src = entry.url;
    const tex = newTexture(true, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, 1, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array([0, 0, 0, 255]));
    const media = { tex, crop: [0, 0, 1, 1], stereo: entry.stereo || "mono", pose: poseMatrix(entry.pose), video, width: 0, height: 0, name: entry.name, uploaded: -1, frameReady: false };
    return new Promise((resolve, reject) => {
      video.addEventListener("loadeddata", () => { media.width = video.videoWidth; media.height = video.videoHeight; resolve(media); }, { once: true });
      video.addEventListener("error", () => reject(new Error(`cannot play ${entry.name}: the browser lacks its codec (try H.264 mp4)`)), { once: true });
      if ("requestVideoFrameCallback" in video) {
        const onFrame = () => { media.frameReady = true; state.dirty = true; video.requestVideoFrameCallback(onFrame); };
        video.requestVideoFrameCallback(onFrame);
      }
      for (const ev of ["play", "pause", "seeked", "timeupdate"]) video.addEventListener(ev, () => { state.dirty = true; updateVideoUI(); });
    });
  }

  function uploadVideo(media) {
    const v = media.video;
    if (!v || v.readyState < 2) return;
    const fresh = media.frameReady || media.uploaded !== v.currentTime;
    if (!fresh) return;
    media.frameReady = false;
    media.uploaded = v.currentTime;
    if (v.videoWidth > maxTex || v.videoHeight > maxTex) return;  // reported once at load
    gl.bindTexture(gl.TEXTURE_2D, media.tex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, v);
    countTexture(media.tex, v.videoWidth, v.videoHeight, false);
  }

  // ---------------------------------------------------------------- tiled spheres
  // A tiled media: {tiled: true, eyes: [pyramid] (one, or left and right), meta, pose, ...};
  // a pyramid: {meta, base, pose, tiles: Map(key -> tile), want: [], inflight, bytes, loaded, missing}.
  // tile: {level, face, row, col, tex, centre (GL world dir), cosRadius, used, state}
  // The tile budget is shared by every pyramid the page holds (both eyes, both sides of a crossfade).
  const pyramids = new Set();
  function tileBytesTotal() { let n = 0; for (const p of pyramids) n += p.bytes; return n; }
  function tileKey(level, face, row, col) { return `${level}/${face}/${row}_${col}`; }

  function tileGeometry(media, level, face, row, col) {
    const n = media.meta.levels[level] / media.meta.tile;
    const u0 = -1 + (2 * col) / n, v0 = 1 - (2 * row) / n, du = 2 / n;
    const f = FACES[face], pose = media.pose;
    const toWorld = (u, v) => {  // face coords -> GL world unit vector
      const p = [f[0] * u + f[3] * v + f[6], f[1] * u + f[4] * v + f[7], f[2] * u + f[5] * v + f[8]];
      // photo -> world: transpose of uPose (column-major world->photo), i.e. w_i = sum_j pose[i*3+j] p_j
      const w = [0, 1, 2].map((i) => pose[i * 3] * p[0] + pose[i * 3 + 1] * p[1] + pose[i * 3 + 2] * p[2]);
      const len = Math.hypot(w[0], w[1], w[2]);
      return [w[0] / len, w[1] / len, -w[2] / len];
    };
    const centre = toWorld(u0 + du / 2, v0 - du / 2);
    let cosRadius = 1;
    for (const [u, v] of [[u0, v0], [u0 + du, v0], [u0, v0 - du], [u0 + du, v0 - du]]) {
      const c = toWorld(u, v);
      cosRadius = Math.min(cosRadius, c[0] * centre[0] + c[1] * centre[1] + c[2] * centre[2]);
    }
    return { rect: [u0, v0, du, du], centre, cosRadius };
  }

  function getTile(media, level, face, row, col) {
    const key = tileKey(level, face, row, col);
    let t = media.tiles.get(key);
    if (!t) {
      t = { key, level, face, row, col, tex: null, used: 0, state: "none", ...tileGeometry(media, level, face, row, col) };
      media.tiles.set(key, t);
    }
    return t;
  }

  function tileBytes(media) { const s = media.meta.tile + 2; return Math.round((s * s * 4 * 4) / 3); }

  async function fetchTile(media, t) {
    t.state = "loading";
    media.inflight++;
    try {
      const r = await fetch(`${media.base}${t.level}/${t.face}/${t.row}_${t.col}.jpg`);
      if (!r.ok) throw new Error(`tile ${t.key}: HTTP ${r.status}${r.status === 500 ? ": " + (await r.text()).trim() : ""}`);
      const bitmap = await createImageBitmap(await r.blob());
      if (media.disposed) { bitmap.close(); return; }
      const tex = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, tex);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR_MIPMAP_LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      if (aniso) gl.texParameterf(gl.TEXTURE_2D, aniso.TEXTURE_MAX_ANISOTROPY_EXT, Math.min(8, gl.getParameter(aniso.MAX_TEXTURE_MAX_ANISOTROPY_EXT)));
      gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
      gl.generateMipmap(gl.TEXTURE_2D);
      countTexture(tex, bitmap.width, bitmap.height, true);
      bitmap.close();
      t.tex = tex;
      t.state = "ready";
      media.bytes += tileBytes(media);
      media.loaded++;
      evictTiles();
    } catch (err) {
      t.state = "failed";
      if (!media.disposed) showMessage(String(err.message || err));
    } finally {
      media.inflight--;
      state.dirty = true;
    }
  }

  // Over budget: drop the tiles drawn longest ago, of any pyramid (never level 0, never one a
  // current view wants).
  function evictTiles() {
    let total = tileBytesTotal();
    if (total <= tileBudget) return;
    const resident = [];
    for (const p of pyramids) {
      const wanted = new Set(p.want);
      for (const t of p.tiles.values()) if (t.tex && t.level > 0 && !wanted.has(t)) resident.push([p, t]);
    }
    resident.sort((a, b) => a[1].used - b[1].used);
    for (const [p, t] of resident) {
      if (total <= tileBudget) break;
      deleteTexture(t.tex);
      t.tex = null;
      t.state = "none";
      p.bytes -= tileBytes(p);
      total -= tileBytes(p);
    }
  }

  // The tiles the given views need, coarse to fine (finest last), nearest the view centre first.
  function wantedTiles(media, views, cap = Infinity) {
    const levels = media.meta.levels;
    let level = 0, cosMax = 1;
    const dirs = [];
    for (const { proj, rot, height } of views) {
      const ppr = (proj[5] * height) / 2;                      // screen pixels per radian at the centre
      let l = 0;
      while (l < levels.length - 1 && levels[l] / 2 < ppr) l++;   // a face spans 2 tan-units: levels[l] / 2 px per radian
      level = Math.min(cap, Math.max(level, l));
      const tx = 1 / proj[0], ty = 1 / proj[5];
      cosMax = Math.min(cosMax, Math.cos(Math.atan(Math.hypot(tx, ty))));
      dirs.push([-rot[6], -rot[7], -rot[8]]);                  // the view's forward axis (-z) in the world
    }
    const halfAngle = Math.acos(cosMax);
    const out = [];
    for (let l = 0; l <= level; l++) {
      const n = levels[l] / media.meta.tile;
      for (let face = 0; face < 6; face++)
        for (let row = 0; row < n; row++)
          for (let col = 0; col < n; col++) {
            const t = l === 0 ? getTile(media, l, face, row, col) : media.tiles.get(tileKey(l, face, row, col)) || tileGeometry(media, l, face, row, col);
            let best = -2;
            for (const d of dirs) best = Math.max(best, d[0] * t.centre[0] + d[1] * t.centre[1] + d[2] * t.centre[2]);
            const radius = Math.acos(clamp(t.cosRadius, -1, 1));
            if (l > 0 && Math.acos(clamp(best, -1, 1)) > halfAngle + radius) continue;
            out.push([l, -best, face, row, col]);
          }
    }
    out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return out.map(([l, , face, row, col]) => getTile(media, l, face, row, col));
  }

  function updatePyramid(media, views, wanted) {
    media.want = wanted;
    for (const t of wanted) {
      if (media.inflight >= TILE_FETCHES) break;
      if (t.state === "none") fetchTile(media, t);
    }
    media.missing = wanted.filter((t) => t.state !== "ready" && t.state !== "failed").length;
  }

  // The tiles of every eye's pyramid of A (and of B, the crossfade partner) for the given views
  // ({proj, rot, height, eye}); a flat screen shows the left eye.
  function updateTiles(views) {
    const jobs = [];
    for (const m of [state.a, state.b]) {
      if (!m || !m.tiled) continue;
      m.eyes.forEach((p, e) => {
        const mine = m.eyes.length > 1 ? views.filter((v) => (v.eye || 0) === e) : views;
        p.want = [];
        if (mine.length) jobs.push([p, mine]);
      });
    }
    // What the views want must fit the budget (the tiles a view wants are never evicted): on a
    // large screen, or with both eyes and both sides of a crossfade, stop at a coarser level.
    let cap = Infinity, wants;
    for (;;) {
      wants = jobs.map(([p, mine]) => wantedTiles(p, mine, cap));
      const bytes = wants.reduce((n, w, i) => n + w.length * tileBytes(jobs[i][0]), 0);
      const finest = Math.max(0, ...wants.flatMap((w) => w.map((t) => t.level)));
      if (bytes <= tileBudget || finest === 0) break;
      cap = finest - 1;
    }
    let wanted = 0, missing = 0;
    jobs.forEach(([p], i) => { updatePyramid(p, null, wants[i]); wanted += p.want.length; missing += p.missing; });
    evictTiles();  // (the budget may have shrunk)
    const bar = $("progress");
    bar.hidden = missing === 0;
    if (missing) bar.textContent = `Loading detail… ${wanted - missing} / ${wanted}`;
  }

  function drawTiles(m, proj, viewRot, eye, partner, mix) {
    const media = m.eyes[Math.min(eye, m.eyes.length - 1)];
    const other = partner && partner.tiled && mix > 0 ? partner.eyes[Math.min(eye, partner.eyes.length - 1)] : null;
    gl.useProgram(tileProg);
    gl.bindVertexArray(tileVao);
    const worldToEye = new Float32Array([viewRot[0], viewRot[3], viewRot[6], viewRot[1], viewRot[4], viewRot[7], viewRot[2], viewRot[5], viewRot[8]]);
    gl.uniformMatrix4fv(tileUni.uProj, false, proj);
    gl.uniformMatrix3fv(tileUni.uWorldToEye, false, worldToEye);
    gl.uniformMatrix3fv(tileUni.uPose, false, media.pose);
    gl.uniform1f(tileUni.uTileSize, media.meta.tile);
    gl.uniform1i(tileUni.uTex, 0);
    gl.uniform1i(tileUni.uTexB, 1);
    gl.uniform1f(tileUni.uMix, other ? mix : 0);
    // coarse to fine: the finer tiles paint over the coarser; level 0 covers the whole sphere, so no
    // clearing is needed. A crossfade draws a tile only where both sides have it, blended per tile.
    for (const t of media.want || []) {
      if (!t.tex) continue;
      const tb = other ? other.tiles.get(t.key) : t;
      if (!tb || !tb.tex) continue;
      t.used = tb.used = state.frames;
      gl.activeTexture(gl.TEXTURE1);
      gl.bindTexture(gl.TEXTURE_2D, tb.tex);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, t.tex);
      gl.uniformMatrix3fv(tileUni.uFace, false, FACES[t.face]);
      gl.uniform4fv(tileUni.uRect, t.rect);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    }
    gl.bindVertexArray(state.emptyVao);
  }

  async function loadTiled(entry) {
    const r = await fetch(entry.tiles + "meta.json");
    if (!r.ok) throw new Error(`cannot load ${entry.name}: HTTP ${r.status}`);
    const meta = await r.json(), pose = poseMatrix(entry.pose);
    const eyes = [];
    for (let e = 0; e < (meta.eyes || 1); e++) {
      const p = { meta, pose, base: entry.tiles + (e ? "right/" : ""), tiles: new Map(), want: [], inflight: 0, bytes: 0, loaded: 0, missing: 0 };
      pyramids.add(p);
      eyes.push(p);
    }
    // a partial photo comes placed in its full sphere (the rest in the background colour)
    const media = { tiled: true, eyes, meta, pose, crop: [0, 0, 1, 1], stereo: entry.stereo || "mono", video: null, tex: null, name: entry.name };
    // level 0 first and whole: the sphere is complete (if coarse) before anything finer arrives
    const base = [];
    for (const p of eyes) {
      p.want = [];
      for (let face = 0; face < 6; face++) p.want.push(getTile(p, 0, face, 0, 0));
      base.push(...p.want.map((t) => fetchTile(p, t)));
    }
    await Promise.all(base);
    if (eyes.some((p) => p.want.some((t) => t.state !== "ready"))) { dispose(media); throw new Error(`cannot load the tiles of ${entry.name}`); }
    return media;
  }

  function dispose(media) {
    if (!media) return;
    if (media.tiled) {
      for (const p of media.eyes) {
        p.disposed = true;
        for (const t of p.tiles.values()) if (t.tex) deleteTexture(t.tex);
        p.tiles.clear();
        p.bytes = 0;
        pyramids.delete(p);
      }
      $("progress").hidden = true;
      return;
    }
    if (media.video) { media.video.pause(); media.video.removeAttribute("src"); media.video.load(); }
    deleteTexture(media.tex);
  }

  async function showItem(index) {
    const n = state.items.length;
    if (!n) return;
    index = ((index % n) + n) % n;
    const item = state.items[index];
    const token = ++state.loading;
    showMessage(`Loading ${item.name}\u2026`);
    let a = null, b = null;
    try {
      if (item.kind === "video") {
        [a, b] = await Promise.all([loadVideo(item.a, false), item.b ? loadVideo(item.b, true) : null]);
      } else {
        // a large sphere comes as tiles; a pair of them crossfades tile by tile when both have the
        // same layout, else both come as whole textures (shrunk to fit)
        const tiled = item.a.tiles && (!item.b || item.b.tiles);
        [a, b] = await Promise.all([tiled ? loadTiled(item.a) : loadImage(item.a), item.b ? (tiled ? loadTiled(item.b) : loadImage(item.b)) : null]);
        if (b && a.tiled && String(a.meta.levels) !== String(b.meta.levels)) {
          dispose(a); dispose(b); a = b = null;
          [a, b] = await Promise.all([loadImage(item.a), loadImage(item.b)]);
        }
      }
    } catch (err) {
      dispose(a); dispose(b);
      if (token === state.loading) showMessage(String(err.message || err));
      console.warn(String(err.message || err));
      return;
    }
    if (token !== state.loading) { dispose(a); dispose(b); return; }  // a newer request won
    dispose(state.a); dispose(state.b);
    state.a = a; state.b = b; state.index = index;
    showMessage("");
    $("title").textContent = item.b ? `${item.a.name} \u2194 ${item.b.name}` : item.a.name;
    $("counter").textContent = n > 1 ? `${index + 1} / ${n}` : "";
    $("prev").hidden = $("next").hidden = n < 2;
    $("fade").hidden = !item.b;
    $("label-a").textContent = item.label_a || "A";
    $("label-b").textContent = item.label_b || "B";
    $("video").hidden = item.kind !== "video";
    if (!item.b) setMix(0);
    if (state.keepView) state.keepView = false;  // the URL named the first view
    else { const v = item.a.view || { yaw: 0, pitch: 0 }; setView(v.yaw, v.pitch, v.fov || state.fov); }
    if (a.video) {
      const v = a.video;
      if (v.videoWidth > maxTex || v.videoHeight > maxTex)
        showMessage(`${item.a.name} is ${v.videoWidth}x${v.videoHeight}, more than this GPU's ${maxTex}px textures: transcode it smaller`);
      v.play().catch(() => updateVideoUI());  // autoplay may need a click: the play button is there
      if (b) b.video.play().catch(() => {});
    }
    updateVideoUI();
    state.dirty = true;
    scheduleHash();
  }

  // ---------------------------------------------------------------- view state and UI
  function setView(yaw, pitch, fov) {
    state.yaw = wrapDeg(yaw);
    state.pitch = clamp(pitch, -90, 90);
    state.fov = clamp(fov, FOV_MIN, FOV_MAX);
    state.dirty = true;
    scheduleHash();
  }
  function setMix(v) {
    state.mix = clamp(v, 0, 1);
    $("mix").value = String(state.mix);
    state.dirty = true;
    scheduleHash();
  }
  // The item's own first view (GPano initial view, else straight ahead): where Home goes.
  function homeView() {
    const item = state.items[state.index];
    const v = (item && item.a.view) || { yaw: 0, pitch: 0 };
    return [v.yaw, v.pitch, v.fov || FOV_DEFAULT];
  }
  // The view lives in the URL hash (a link shares it; a reload keeps it). replaceState: no history
  // entry per drag step and no hashchange event back into applyHash.
  let hashTimer = 0;
  function scheduleHash() {
    if (state.index < 0 || hashTimer) return;
    hashTimer = setTimeout(writeHash, 200);
  }
  function writeHash() {
    hashTimer = 0;
    if (state.index < 0) return;
    const r = (v, digits) => String(Number(v.toFixed(digits)));
    let h = `item=${state.index}&yaw=${r(state.yaw, 2)}&pitch=${r(state.pitch, 2)}&fov=${r(state.fov, 2)}`;
    if (state.b) h += `&mix=${r(state.mix, 3)}`;
    if (location.hash.slice(1) !== h) history.replaceState(history.state, "", location.pathname + location.search + "#" + h);
  }
  function applyHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const num = (k, d) => (p.has(k) && isFinite(parseFloat(p.get(k))) ? parseFloat(p.get(k)) : d);
    setView(num("yaw", state.yaw), num("pitch", state.pitch), num("fov", state.fov));
    if (p.has("mix")) setMix(num("mix", state.mix));
    if (p.has("item")) { const i = Math.round(num("item", 0)); if (i !== state.index) showItem(i); }
  }
  const fmtTime = (t) => (isFinite(t) ? `${Math.floor(t / 60)}:${String(Math.floor(t % 60)).padStart(2, "0")}` : "0:00");
  function updateVideoUI() {
    const v = state.a && state.a.video;
    if (!v) return;
    $("play").innerHTML = v.paused ? ICON.play : ICON.pause;
    $("play").setAttribute("aria-label", v.paused ? "Play" : "Pause");
    $("mute").innerHTML = v.muted ? ICON.muted : ICON.sound;
    if (!seeking && v.duration) $("seek").value = String(v.currentTime / v.duration);
    $("time").textContent = `${fmtTime(v.currentTime)} / ${fmtTime(v.duration)}`;
  }
  function videos() { return [state.a, state.b].filter((m) => m && m.video).map((m) => m.video); }
  function togglePlay() {
    const v = state.a && state.a.video;
    if (!v) return;
    if (v.paused) for (const x of videos()) x.play().catch(() => {});
    else for (const x of videos()) x.pause();
  }
  function seekTo(t) {
    const v = state.a && state.a.video;
    if (!v || !v.duration) return;
    t = clamp(t, 0, v.duration - 0.01);
    for (const x of videos()) x.currentTime = t;
  }
  function syncPair() {  // keep the B video on A's clock
    if (!state.a || !state.a.video || !state.b || !state.b.video) return;
    const a = state.a.video, b = state.b.video;
    if (Math.abs(b.currentTime - a.currentTime) > 0.15 && b.readyState >= 1) b.currentTime = a.currentTime;
    if (a.paused !== b.paused) { if (a.paused) b.pause(); else b.play().catch(() => {}); }
  }

  // ---------------------------------------------------------------- drawing
  function drawView(proj, viewRot, eye = 0) {
    if (state.a && state.a.tiled) { drawTiles(state.a, proj, viewRot, eye, state.b, state.b ? state.mix : 0); return; }
    gl.useProgram(prog);
    gl.uniformMatrix4fv(uni.uInvProj, false, invert4(proj));
    gl.uniformMatrix3fv(uni.uView, false, viewRot);
    const a = state.a, b = state.b || state.a;
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, a ? a.tex : blackTex);
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, b ? b.tex : blackTex);
    gl.uniform1i(uni.uTexA, 0);
    gl.uniform1i(uni.uTexB, 1);
    gl.uniform4fv(uni.uCropA, a ? a.crop : [0, 0, 1, 1]);
    gl.uniform4fv(uni.uCropB, b ? b.crop : [0, 0, 1, 1]);
    gl.uniform4fv(uni.uEyeA, eyeRect(a && a.stereo, eye));
    gl.uniform4fv(uni.uEyeB, eyeRect(b && b.stereo, eye));
    gl.uniform1f(uni.uMix, state.b ? state.mix : 0);
    gl.uniform3fv(uni.uBackground, BACKGROUND);
    gl.uniformMatrix3fv(uni.uPose, false, a ? a.pose : poseMatrix(null));
    gl.drawArrays(gl.TRIANGLES, 0, 3);
  }

  function uploadFrames() {
    syncPair();
    if (state.a) uploadVideo(state.a);
    if (state.b) uploadVideo(state.b);
  }

  function desktopRotation() {
    if (state.gyro) return mul3(rotY(-state.gyro.yawOffset * DEG), state.gyro.rot);
    return viewRotation(state.yaw, state.pitch);
  }

  function frameDone() {
    state.frames++;
    while (frameWaiters.length) frameWaiters.shift()();
  }

  function desktopFrame() {
    if (state.xr) return;  // the XR session drives frames now
    requestAnimationFrame(desktopFrame);
    const dpr = Math.min(window.devicePixelRatio || 1, 2);
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr)), h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; state.dirty = true; }
    const playing = videos().some((v) => !v.paused);
    if (!state.dirty && !playing && !frameWaiters.length) return;
    state.dirty = false;
    uploadFrames();
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.viewport(0, 0, w, h);
    const proj = perspective(state.fov, w / h), rot = desktopRotation();
    if (state.a && state.a.tiled) updateTiles([{ proj, rot, height: h, eye: 0 }]);
    drawView(proj, rot);
    if (playing) updateVideoUI();
    frameDone();
  }

  // ---------------------------------------------------------------- WebXR
  async function setupVR() {
    const btn = $("vr");
    if (!window.isSecureContext) $("secure-note").hidden = false;
    if (!navigator.xr || !navigator.xr.isSessionSupported) return;
    try {
      if (!(await navigator.xr.isSessionSupported("immersive-vr"))) return;
    } catch (e) { return; }
    btn.hidden = false;
    btn.addEventListener("click", () => (state.xr ? state.xr.session.end() : enterVR()));
  }

  const XR_START_MS = 10000;
  function withTimeout(promise, what) {
    let timer = 0;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${XR_START_MS / 1000} s: restart the headset's browser and try again`)), XR_START_MS);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  async function enterVR() {
    if (state.xr || !navigator.xr) return;
    let session;
    try {
      session = await navigator.xr.requestSession("immersive-vr");
    } catch (err) {
      showMessage(`Cannot start VR: ${err.message || err}`);
      return;
    }
    try {
      // A broken XR runtime can leave these promises pending for ever: give up after XR_START_MS.
      if (gl.makeXRCompatible && !gl.getContextAttributes().xrCompatible)
        await withTimeout(gl.makeXRCompatible(), "the graphics card did not become ready for VR");
      session.updateRenderState({ baseLayer: new XRWebGLLayer(session, gl) });
      const space = await withTimeout(session.requestReferenceSpace("local"), "the headset gave no reference space");
      // In VR the world turns with the desktop yaw, so what was in front stays in front.
      state.xr = { session, space, turn: state.yaw, buttons: {}, stick: 0 };
    } catch (err) {
      session.end().catch(() => {});
      showMessage(`Cannot start VR: ${err.message || err}`);
      return;
    }
    $("vr").textContent = "Exit VR";
    session.addEventListener("end", () => {
      state.xr = null;
      panel.visible = false;
      $("vr").textContent = "Enter VR";
      state.dirty = true;
      requestAnimationFrame(desktopFrame);
    });
    // select (trigger, or a pinch with hand tracking): on the panel, what the ray points at; a hand
    // pinching elsewhere toggles the panel (hands have no buttons); a controller elsewhere plays/pauses
    session.addEventListener("select", (e) => {
      const hit = panelHit(e.frame, e.inputSource);
      if (hit) panelAction(hit);
      else if (e.inputSource && e.inputSource.hand) togglePanel(state.xr);
      else togglePlay();
    });
    session.requestAnimationFrame(xrFrame);
  }

  function pollControllers(xr) {
    for (const src of xr.session.inputSources || []) {
      const gp = src.gamepad;
      if (!gp) continue;
      const key = src.handedness || "none";
      const prev = xr.buttons[key] || [];
      const pressed = gp.buttons.map((b) => b && b.pressed);
      const edge = (i) => pressed[i] && !prev[i];
      if (edge(4)) showItem(state.index + 1);          // A / X
      if (edge(5)) showItem(state.index - 1);          // B / Y
      if (edge(1)) togglePanel(xr);                    // grip: the in-VR panel
      xr.buttons[key] = pressed;
      const sx = gp.axes.length >= 4 ? gp.axes[2] : gp.axes[0] || 0;
      const sy = gp.axes.length >= 4 ? gp.axes[3] : gp.axes[1] || 0;
      if (state.b) {
        if (Math.abs(sx) > 0.15) setMix(state.mix + sx * 0.02);  // hold to fade
      } else if (Math.abs(sx) > 0.7 && !xr.stick) {
        xr.turn += 30 * Math.sign(sx);                   // snap turn
      }
      if (Math.abs(sy) > 0.7 && !xr.stickY && state.a && state.a.video) seekTo(state.a.video.currentTime - 5 * Math.sign(sy));
      xr.stick = Math.abs(sx) > 0.7 ? 1 : Math.abs(sx) < 0.3 ? 0 : xr.stick;
      xr.stickY = Math.abs(sy) > 0.7 ? 1 : Math.abs(sy) < 0.3 ? 0 : xr.stickY;
    }
  }

  function xrFrame(time, frame) {
    const xr = state.xr;
    if (!xr) return;
    xr.session.requestAnimationFrame(xrFrame);
    pollControllers(xr);
    uploadFrames();
    const pose = frame.getViewerPose(xr.space);
    if (!pose) return;
    if (pose.transform) xr.head = pose.transform.matrix;
    if (panel.visible) panelHover(frame, xr);
    const layer = xr.session.renderState.baseLayer;
    gl.bindFramebuffer(gl.FRAMEBUFFER, layer.framebuffer);
    const turn = rotY(-xr.turn * DEG);
    const views = [];
    for (const view of pose.views) {
      const vp = layer.getViewport(view);
      if (vp) views.push({ view, vp, proj: view.projectionMatrix, rot: mul3(turn, rot3of4(view.transform.matrix)), height: vp.height, eye: view.eye === "right" ? 1 : 0 });
    }
    if (state.a && state.a.tiled) updateTiles(views);
    for (const { view, vp, proj, rot } of views) {
      gl.viewport(vp.x, vp.y, vp.width, vp.height);
      drawView(proj, rot, view.eye === "right" ? 1 : 0);
      if (panel.visible) drawPanel(proj, view.transform.matrix);
    }
    frameDone();
  }

  // ---------------------------------------------------------------- the in-VR panel
  // A small board in front of the viewer: gallery position with previous/next, the crossfade level,
  // play/pause and a seek bar for video. Drawn with Canvas 2D into a texture, shown as a quad in the
  // reference space; controller rays and hand rays select on it.
  const PANEL_W = 0.6, PANEL_H = 0.3, PANEL_PX = [640, 320];
  // element rectangles in panel coordinates (0..1 across, 0..1 down)
  const PANEL_LAYOUT = {
    prev: [0.02, 0.04, 0.12, 0.22], next: [0.86, 0.04, 0.12, 0.22],
    fade: [0.2, 0.38, 0.6, 0.18],
    play: [0.04, 0.7, 0.12, 0.24], seek: [0.2, 0.74, 0.6, 0.16],
  };
  const panel = { visible: false, tex: null, canvas: null, key: "", hover: "", centre: [0, 0, -1], right: [1, 0, 0], up: [0, 1, 0], prog: null, uni: null };

  function panelElements() {
    const item = state.items[state.index] || {};
    const video = state.a && state.a.video;
    return { prev: state.items.length > 1, next: state.items.length > 1, fade: !!state.b, play: !!video, seek: !!video };
  }

  function togglePanel(xr) {
    if (!xr) return;
    panel.visible = !panel.visible;
    if (panel.visible) {
      // 1 m ahead of the head along its level forward direction, a little below the eyes, facing it
      const m = xr.head || new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
      let fx = -m[8], fz = -m[10];
      const len = Math.hypot(fx, fz) || 1;
      fx /= len; fz /= len;
      panel.centre = [m[12] + fx, m[13] - 0.1, m[14] + fz];
      panel.right = [-fz, 0, fx];
      panel.up = [0, 1, 0];
      panel.key = "";
    }
  }

  // world point of panel coordinates (u across, v down, both 0..1)
  function panelPoint(u, v) {
    return [0, 1, 2].map((i) => panel.centre[i] + (u - 0.5) * PANEL_W * panel.right[i] + (0.5 - v) * PANEL_H * panel.up[i]);
  }

  // (u, v) where the input source's ray meets the panel, or null
  function panelUV(frame, source) {
    if (!panel.visible || !frame || typeof frame.getPose !== "function" || !source || !source.targetRaySpace || !state.xr) return null;
    const pose = frame.getPose(source.targetRaySpace, state.xr.space);
    if (!pose) return null;
    const m = pose.transform.matrix;
    const o = [m[12], m[13], m[14]], d = [-m[8], -m[9], -m[10]];
    const n = [panel.right[1] * panel.up[2] - panel.right[2] * panel.up[1], panel.right[2] * panel.up[0] - panel.right[0] * panel.up[2], panel.right[0] * panel.up[1] - panel.right[1] * panel.up[0]];
    const denom = n[0] * d[0] + n[1] * d[1] + n[2] * d[2];
    if (Math.abs(denom) < 1e-6) return null;
    const t = (n[0] * (panel.centre[0] - o[0]) + n[1] * (panel.centre[1] - o[1]) + n[2] * (panel.centre[2] - o[2])) / denom;
    if (t <= 0) return null;
    const p = [0, 1, 2].map((i) => o[i] + t * d[i] - panel.centre[i]);
    const u = 0.5 + (p[0] * panel.right[0] + p[1] * panel.right[1] + p[2] * panel.right[2]) / PANEL_W;
    const v = 0.5 - (p[0] * panel.up[0] + p[1] * panel.up[1] + p[2] * panel.up[2]) / PANEL_H;
    return u >= 0 && u <= 1 && v >= 0 && v <= 1 ? [u, v] : null;
  }

  function panelHit(frame, source) {
    const uv = panelUV(frame, source);
    if (!uv) return null;
    const on = panelElements();
    for (const [name, [x, y, w, h]] of Object.entries(PANEL_LAYOUT))
      if (on[name] && uv[0] >= x && uv[0] <= x + w && uv[1] >= y && uv[1] <= y + h) return { name, fx: (uv[0] - x) / w };
    return { name: "board", fx: 0 };  // on the panel, between its controls: nothing to do
  }

  function panelAction(hit) {
    const v = state.a && state.a.video;
    if (hit.name === "prev") showItem(state.index - 1);
    else if (hit.name === "next") showItem(state.index + 1);
    else if (hit.name === "fade") setMix(hit.fx);
    else if (hit.name === "play") togglePlay();
    else if (hit.name === "seek" && v && v.duration) seekTo(hit.fx * v.duration);
    panel.key = "";
  }

  function panelHover(frame, xr) {
    let hover = "";
    for (const src of xr.session.inputSources || []) {
      const hit = panelHit(frame, src);
      if (hit) hover = hit.name;
    }
    if (hover !== panel.hover) { panel.hover = hover; panel.key = ""; }
  }

  function paintPanel() {
    const v = state.a && state.a.video, item = state.items[state.index] || {};
    const key = JSON.stringify([state.index, state.mix.toFixed(3), v ? [v.paused, Math.floor(v.currentTime * 4)] : 0, panel.hover, state.items.length]);
    if (key === panel.key && panel.tex) return;
    panel.key = key;
    if (!panel.canvas) { panel.canvas = document.createElement("canvas"); [panel.canvas.width, panel.canvas.height] = PANEL_PX; }
    const c = panel.canvas.getContext("2d"), [W, H] = PANEL_PX, on = panelElements();
    const box = (name) => { const [x, y, w, h] = PANEL_LAYOUT[name]; return [x * W, y * H, w * W, h * H]; };
    c.fillStyle = "rgb(24, 26, 31)"; c.fillRect(0, 0, W, H);
    c.font = "26px system-ui, sans-serif"; c.textBaseline = "middle"; c.textAlign = "center";
    const button = (name, label) => {
      const [x, y, w, h] = box(name);
      c.fillStyle = panel.hover === name ? "rgb(90, 110, 150)" : "rgb(52, 57, 68)";
      c.fillRect(x, y, w, h);
      c.fillStyle = "white"; c.fillText(label, x + w / 2, y + h / 2);
    };
    c.fillStyle = "white";
    const n = state.items.length;
    c.fillText(`${n > 1 ? `${state.index + 1} / ${n}  ` : ""}${(item.name || "").slice(0, 28)}`, W / 2, 0.15 * H);
    if (on.prev) { button("prev", "\u2039"); button("next", "\u203a"); }
    const bar = (name, fraction, text) => {
      const [x, y, w, h] = box(name);
      c.fillStyle = panel.hover === name ? "rgb(70, 78, 95)" : "rgb(52, 57, 68)"; c.fillRect(x, y, w, h);
      c.fillStyle = "rgb(240, 170, 40)"; c.fillRect(x, y, w * clamp(fraction, 0, 1), h);
      c.fillStyle = "white"; c.fillText(text, x + w / 2, y + h / 2);
    };
    if (on.fade) {
      bar("fade", state.mix, `${item.label_a || "A"} \u2194 ${item.label_b || "B"}  ${Math.round(state.mix * 100)}%`);
    }
    if (on.play) {
      button("play", v.paused ? "\u25b6" : "\u275a\u275a");
      bar("seek", v.duration ? v.currentTime / v.duration : 0, `${fmtTime(v.currentTime)} / ${fmtTime(v.duration)}`);
    }
    if (!panel.tex) {
      panel.tex = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, panel.tex);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    }
    gl.bindTexture(gl.TEXTURE_2D, panel.tex);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, panel.canvas);
    countTexture(panel.tex, panel.canvas.width, panel.canvas.height, false);
  }

  const PANEL_VERT = `#version 300 es
in vec2 aCorner;
uniform mat4 uMVP;          // projection * world->eye
uniform vec3 uCentre, uRight, uUp;
uniform vec2 uSize;
out vec2 vUV;
void main() {
  vec3 p = uCentre + (aCorner.x - 0.5) * uSize.x * uRight + (0.5 - aCorner.y) * uSize.y * uUp;
  gl_Position = uMVP * vec4(p, 1.0);
  vUV = aCorner;
}`;
  const PANEL_FRAG = `#version 300 es
precision mediump float;
in vec2 vUV;
uniform sampler2D uTex;
out vec4 outColor;
void main() { outColor = vec4(texture(uTex, vUV).rgb, 1.0); }`;

  function drawPanel(proj, eyeToWorld) {
    if (!panel.prog) {
      const compile = (type, src) => { const sh = gl.createShader(type); gl.shaderSource(sh, src); gl.compileShader(sh); return sh; };
      panel.prog = gl.createProgram();
      gl.attachShader(panel.prog, compile(gl.VERTEX_SHADER, PANEL_VERT));
      gl.attachShader(panel.prog, compile(gl.FRAGMENT_SHADER, PANEL_FRAG));
      gl.bindAttribLocation(panel.prog, 0, "aCorner");
      gl.linkProgram(panel.prog);
      if (!gl.getProgramParameter(panel.prog, gl.LINK_STATUS)) throw new Error("panel program: " + gl.getProgramInfoLog(panel.prog));
      panel.uni = {};
      for (const n of ["uMVP", "uCentre", "uRight", "uUp", "uSize", "uTex"]) panel.uni[n] = gl.getUniformLocation(panel.prog, n);
    }
    paintPanel();
    gl.useProgram(panel.prog);
    gl.bindVertexArray(tileVao);
    gl.uniformMatrix4fv(panel.uni.uMVP, false, mul4(proj, invert4(eyeToWorld)));
    gl.uniform3fv(panel.uni.uCentre, panel.centre);
    gl.uniform3fv(panel.uni.uRight, panel.right);
    gl.uniform3fv(panel.uni.uUp, panel.up);
    gl.uniform2f(panel.uni.uSize, PANEL_W, PANEL_H);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, panel.tex);
    gl.uniform1i(panel.uni.uTex, 0);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    gl.bindVertexArray(state.emptyVao);
  }

  // ---------------------------------------------------------------- device orientation (phones)
  function setupGyro() {
    const btn = $("gyro");
    if (!("DeviceOrientationEvent" in window) || !matchMedia("(pointer: coarse)").matches) return;
    btn.hidden = false;
    const onOrient = (e) => {
      if (e.alpha == null) return;
      const orient = ((screen.orientation && screen.orientation.angle) || window.orientation || 0) * DEG;
      const x = e.beta * DEG, y = e.alpha * DEG, z = -e.gamma * DEG;  // Euler 'YXZ' as in the W3C spec
      const c1 = Math.cos(x / 2), c2 = Math.cos(y / 2), c3 = Math.cos(z / 2);
      const s1 = Math.sin(x / 2), s2 = Math.sin(y / 2), s3 = Math.sin(z / 2);
      let q = [s1 * c2 * c3 + c1 * s2 * s3, c1 * s2 * c3 - s1 * c2 * s3, c1 * c2 * s3 - s1 * s2 * c3, c1 * c2 * c3 + s1 * s2 * s3];
      q = quatMul(q, [-Math.SQRT1_2, 0, 0, Math.SQRT1_2]);       // camera looks out of the back of the screen
      q = quatMul(q, [0, 0, Math.sin(-orient / 2), Math.cos(-orient / 2)]);
      const rot = quatToMat3(q[0], q[1], q[2], q[3]);
      const heading = Math.atan2(-rot[6], rot[8]) / DEG;         // yaw of the forward axis -z
      if (!state.gyro) state.gyro = { rot, yawOffset: state.yaw - heading, heading };
      state.gyro.rot = rot;
      state.gyro.heading = heading;
      const fwd = mul3(rotY(-state.gyro.yawOffset * DEG), rot);
      state.yaw = wrapDeg(Math.atan2(-fwd[6], fwd[8]) / DEG);
      state.pitch = Math.asin(clamp(-fwd[7], -1, 1)) / DEG;
      state.dirty = true;
    };
    let asking = false;
    btn.addEventListener("click", async () => {
      if (asking) return;
      if (!btn.classList.contains("on")) {
        // the button shows "on" only once the listener is attached: asking for permission is asynchronous
        // (iOS asks the user; Chromium answers on a later task), and events in between would be missed
        if (typeof DeviceOrientationEvent.requestPermission === "function") {
          asking = true;
          let answer = "denied";
          try { answer = await DeviceOrientationEvent.requestPermission(); } catch (e) { /* stays off */ }
          asking = false;
          if (answer !== "granted") return;
        }
        window.addEventListener("deviceorientation", onOrient);
        btn.classList.add("on");
      } else {
        window.removeEventListener("deviceorientation", onOrient);
        btn.classList.remove("on");
        state.gyro = null;
        state.dirty = true;
      }
    });
  }

  // ---------------------------------------------------------------- input
  let seeking = false;
  function setupInput() {
    const pointers = new Map();
    let pinch = 0;
    const degPerPx = () => state.fov / Math.max(1, Math.min(canvas.clientWidth, canvas.clientHeight));
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      canvas.classList.add("dragging");
    });
    canvas.addEventListener("pointermove", (e) => {
      const p = pointers.get(e.pointerId);
      if (!p) return;
      if (pointers.size === 1) {
        const k = degPerPx(), dx = e.clientX - p.x, dy = e.clientY - p.y;
        if (state.gyro) state.gyro.yawOffset -= dx * k;
        else setView(state.yaw - dx * k, state.pitch + dy * k, state.fov);
        state.dirty = true;
      }
      p.x = e.clientX; p.y = e.clientY;
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const d = Math.hypot(a.x - b.x, a.y - b.y);
        if (pinch) setView(state.yaw, state.pitch, state.fov * pinch / d);
        pinch = d;
      }
    });
    const up = (e) => { pointers.delete(e.pointerId); pinch = 0; if (!pointers.size) canvas.classList.remove("dragging"); };
    canvas.addEventListener("pointerup", up);
    canvas.addEventListener("pointercancel", up);
    canvas.addEventListener("wheel", (e) => { e.preventDefault(); setView(state.yaw, state.pitch, state.fov * Math.exp(e.deltaY * 0.001)); }, { passive: false });

    // A slider keeps the keys it moves itself; every other shortcut works while it has the focus.
    const SLIDER_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"]);
    window.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target;
      if (t instanceof HTMLInputElement && (t.type !== "range" || SLIDER_KEYS.has(e.key))) return;
      const step = e.shiftKey ? 15 : 5;
      const keys = {
        ArrowLeft: () => setView(state.yaw - step, state.pitch, state.fov),
        ArrowRight: () => setView(state.yaw + step, state.pitch, state.fov),
        ArrowUp: () => setView(state.yaw, state.pitch + step, state.fov),
        ArrowDown: () => setView(state.yaw, state.pitch - step, state.fov),
        "+": () => setView(state.yaw, state.pitch, state.fov / 1.15),
        "=": () => setView(state.yaw, state.pitch, state.fov / 1.15),
        "-": () => setView(state.yaw, state.pitch, state.fov * 1.15),
        Home: () => setView(...homeView()),
        "0": () => setView(...homeView()),
        PageDown: () => showItem(state.index + 1), n: () => showItem(state.index + 1),
        PageUp: () => showItem(state.index - 1), p: () => showItem(state.index - 1),
        c: () => state.b && setMix(state.mix < 0.5 ? 1 : 0),
        "[": () => state.b && setMix(state.mix - 0.1),
        "]": () => state.b && setMix(state.mix + 0.1),
        " ": togglePlay,
        m: () => { for (const v of videos().slice(0, 1)) v.muted = !v.muted; updateVideoUI(); },
        ",": () => state.a && state.a.video && seekTo(state.a.video.currentTime - 5),
        ".": () => state.a && state.a.video && seekTo(state.a.video.currentTime + 5),
        f: toggleFullscreen,
        h: toggleHelp, "?": toggleHelp, Escape: () => { $("help").hidden = true; },
        v: () => !$("vr").hidden && $("vr").click(),
      };
      const fn = keys[e.key] || keys[e.key.toLowerCase && e.key.toLowerCase()];
      if (fn) { e.preventDefault(); fn(); }
    });

    $("prev").addEventListener("click", () => showItem(state.index - 1));
    $("next").addEventListener("click", () => showItem(state.index + 1));
    $("mix").addEventListener("input", (e) => setMix(parseFloat(e.target.value)));
    // Dragging a slider with the mouse or a finger leaves no focus behind: the arrow keys look around again.
    for (const id of ["mix", "seek"]) $(id).addEventListener("pointerup", (e) => e.target.blur());
    $("play").addEventListener("click", togglePlay);
    $("mute").addEventListener("click", () => { const v = state.a && state.a.video; if (v) { v.muted = !v.muted; updateVideoUI(); } });
    const seek = $("seek");
    seek.addEventListener("input", () => { seeking = true; const v = state.a && state.a.video; if (v && v.duration) seekTo(parseFloat(seek.value) * v.duration); });
    seek.addEventListener("change", () => { seeking = false; });
    $("fullscreen").addEventListener("click", toggleFullscreen);
    $("help-button").addEventListener("click", toggleHelp);
    $("help-close").addEventListener("click", toggleHelp);
    window.addEventListener("hashchange", applyHash);

    let idleTimer = 0;
    const wake = () => { document.body.classList.remove("idle"); clearTimeout(idleTimer); idleTimer = setTimeout(() => document.body.classList.add("idle"), 3000); };
    for (const ev of ["pointermove", "pointerdown", "keydown", "wheel"]) window.addEventListener(ev, wake, { passive: true });
    wake();
  }
  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
  }
  function toggleHelp() { $("help").hidden = !$("help").hidden; }

  // ---------------------------------------------------------------- start
  async function main() {
    $("fullscreen").innerHTML = ICON.fullscreen;
    $("play").innerHTML = ICON.play;
    $("mute").innerHTML = ICON.sound;
    if (!initGL()) return;
    setupInput();
    setupGyro();
    setupVR();
    let manifest;
    try {
      const r = await fetch("/manifest.json", { cache: "no-store" });
      if (!r.ok) throw new Error(`manifest: HTTP ${r.status}`);
      manifest = await r.json();
    } catch (err) {
      showMessage(`Cannot reach pano view (${err.message || err}): is it still running?`);
      return;
    }
    state.items = manifest.items || [];
    if (!state.items.length) { showMessage("Nothing to show."); return; }
    if (location.search.includes("t=")) history.replaceState(null, "", location.pathname + location.hash);  // token is in a cookie now
    const p = new URLSearchParams(location.hash.slice(1));
    state.keepView = p.has("yaw") || p.has("pitch");
    applyHash();
    if (!p.has("item")) await showItem(0);
    requestAnimationFrame(desktopFrame);
  }

  // A small handle for automation and debugging (used by the browser tests).
  window.panoViewer = {
    get state() { return { yaw: state.yaw, pitch: state.pitch, fov: state.fov, mix: state.mix, index: state.index, frames: state.frames, ready: !!state.a, xr: !!state.xr }; },
    get tiles() {  // the tiled spheres' loading state (every eye, both sides of a crossfade): what the views
      // need, what is resident, texture bytes
      if (!(state.a && state.a.tiled)) return null;
      const ps = [state.a, state.b].filter((m) => m && m.tiled).flatMap((m) => m.eyes);
      const want = ps.flatMap((p) => p.want.map((t) => t.level));
      const sum = (f) => ps.reduce((n, p) => n + f(p), 0);
      return { wanted: want.length, missing: sum((p) => p.missing), finest: want.length ? Math.max(...want) : 0, levels: state.a.meta.levels.length,
        resident: sum((p) => [...p.tiles.values()].filter((t) => t.tex).length), bytes: tileBytesTotal(), budget: tileBudget,
        loaded: sum((p) => p.loaded), pyramids: ps.length, eyes: state.a.eyes.length };
    },
    get textureBytes() { let n = 0; for (const v of texBytes.values()) n += v; return n; },  // every texture the page holds
    setTileBudget(bytes) { tileBudget = bytes; },  // automation: a small budget shows the eviction at work
    get video() { return state.a && state.a.video; },
    nextFrame() { state.dirty = true; return new Promise((resolve) => frameWaiters.push(resolve)); },
    show: showItem,
    setView, setMix,
    panel: { get visible() { return panel.visible; }, point: panelPoint, layout: PANEL_LAYOUT },
  };

  main().catch((err) => { showMessage(String(err.message || err)); console.error(err); });
})();
