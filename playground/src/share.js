// Sharing (the files deflated into the URL fragment) and the zip download.
import { deflateSync, inflateSync, strFromU8, strToU8, zipSync } from 'fflate';

function toBase64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(s) {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** `#z=<base64url(deflate(json))>` for these files. */
export function encodeFragment(files) {
  const json = JSON.stringify({ v: 1, files: files.map(({ path, text }) => ({ path, text })) });
  return `#z=${toBase64url(deflateSync(strToU8(json), { level: 9 }))}`;
}

/** The files in a fragment, null when there are none; throws on a damaged one. */
export function decodeFragment(hash) {
  const m = /^#z=([A-Za-z0-9_-]+)$/.exec(hash || '');
  if (!m) return null;
  const data = JSON.parse(strFromU8(inflateSync(fromBase64url(m[1]))));
  if (!Array.isArray(data.files)) throw new Error('no files in the shared link');
  return data.files.map((f) => ({ path: String(f.path), text: String(f.text) }));
}

/** The rendered tree as `svcintent render` writes it: `<host>/<path>` plus manifest.json. */
export function renderZip(response) {
  const entries = {};
  for (const f of response.files) entries[f.path] = strToU8(f.contents);
  entries['manifest.json'] = strToU8(`${JSON.stringify(response.manifest, null, 2)}\n`);
  return zipSync(entries, { level: 6, mtime: new Date('2000-01-01T00:00:00Z') });
}
