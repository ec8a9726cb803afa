// The compiler reports byte offsets into the UTF-8 file; CodeMirror counts UTF-16 code units.

/** Index in `text` (UTF-16) of UTF-8 byte offset `byte`, clamped to the text. */
export function byteToIndex(text, byte) {
  let bytes = 0;
  let i = 0;
  while (i < text.length && bytes < byte) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i += 1; // the pair's low surrogate
    } else bytes += 3;
    i += 1;
  }
  return i;
}
