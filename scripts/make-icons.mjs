// Draws the tray icons (one per sync state, 16 px and 32 px "@2x") and the app
// icon as PNG files with nothing but Node: shapes are rasterised with
// anti-aliasing and written with zlib. The shapes differ per state, not only
// the colours, so the state reads for colour-blind staff too.
//   node scripts/make-icons.mjs   → assets/tray/*.png, assets/icon.png
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';
import { deflateSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}
function png(size, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// Shapes as signed distances in a unit square (negative inside), painted in order.
const disc = (r) => (x, y) => Math.hypot(x - 0.5, y - 0.5) - r;
const ring = (r, w) => (x, y) => Math.abs(Math.hypot(x - 0.5, y - 0.5) - r) - w / 2;
const box = (cx, cy, hw, hh) => (x, y) => Math.max(Math.abs(x - cx) - hw, Math.abs(y - cy) - hh);
const segment = (ax, ay, bx, by, w) => (x, y) => {
  const [dx, dy] = [bx - ax, by - ay];
  const t = Math.min(1, Math.max(0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - ax - t * dx, y - ay - t * dy) - w / 2;
};
const union =
  (...shapes) =>
  (x, y) =>
    Math.min(...shapes.map((f) => f(x, y)));
const roundedBox = (hw, r) => (x, y) => {
  const [qx, qy] = [Math.abs(x - 0.5) - hw + r, Math.abs(y - 0.5) - hw + r];
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
};
const WHITE = [255, 255, 255];

const STATES = {
  synced: [
    [disc(0.46), [46, 160, 67]],
    [union(segment(0.28, 0.52, 0.43, 0.67, 0.13), segment(0.43, 0.67, 0.72, 0.36, 0.13)), WHITE],
  ],
  syncing: [
    [ring(0.36, 0.16), [31, 111, 235]],
    [disc(0.12), [31, 111, 235]],
  ],
  offline: [
    [disc(0.46), [191, 135, 0]],
    [box(0.5, 0.5, 0.26, 0.07), WHITE],
  ],
  error: [
    [disc(0.46), [207, 34, 46]],
    [box(0.5, 0.4, 0.07, 0.2), WHITE],
    [disc(0.08), WHITE, 0.5, 0.74],
  ],
  disabled: [
    [ring(0.38, 0.12), [110, 119, 129]],
    [box(0.41, 0.5, 0.05, 0.17), [110, 119, 129]],
    [box(0.59, 0.5, 0.05, 0.17), [110, 119, 129]],
  ],
};

function draw(layers, size) {
  const rgba = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let [r, g, b, a] = [0, 0, 0, 0];
      for (const [shape, color, ox, oy] of layers) {
        const x = (px + 0.5) / size - (ox === undefined ? 0 : ox - 0.5);
        const y = (py + 0.5) / size - (oy === undefined ? 0 : oy - 0.5);
        const coverage = Math.min(1, Math.max(0, 0.5 - shape(x, y) * size)); // one-pixel anti-aliased edge
        if (coverage === 0) continue;
        const outA = coverage + a * (1 - coverage);
        r = (color[0] * coverage + r * a * (1 - coverage)) / outA;
        g = (color[1] * coverage + g * a * (1 - coverage)) / outA;
        b = (color[2] * coverage + b * a * (1 - coverage)) / outA;
        a = outA;
      }
      rgba.set([Math.round(r), Math.round(g), Math.round(b), Math.round(a * 255)], (py * size + px) * 4);
    }
  }
  return png(size, rgba);
}

mkdirSync(join(root, 'assets', 'tray'), { recursive: true });
for (const [state, layers] of Object.entries(STATES)) {
  writeFileSync(join(root, 'assets', 'tray', `${state}.png`), draw(layers, 16));
  writeFileSync(join(root, 'assets', 'tray', `${state}@2x.png`), draw(layers, 32));
}
// App icon: the synced mark on a rounded square.
// App icon: two linked rings (till and hub) and the synced check, on a rounded square.
const DARK = [36, 41, 47];
writeFileSync(
  join(root, 'assets', 'icon.png'),
  draw(
    [
      [roundedBox(0.46, 0.1), DARK],
      [ring(0.3, 0.07), WHITE],
      [disc(0.2), [46, 160, 67]],
      [union(segment(0.41, 0.5, 0.48, 0.57, 0.05), segment(0.48, 0.57, 0.61, 0.43, 0.05)), WHITE],
    ],
    512,
  ),
);
console.log('wrote assets/tray/{synced,syncing,offline,error,disabled}{,@2x}.png and assets/icon.png');
