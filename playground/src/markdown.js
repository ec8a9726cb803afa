// Just enough Markdown for `explain` texts: headings, fenced code, lists, paragraphs, `code`,
// **bold**. Builds DOM nodes (no innerHTML), so nothing in a text can become markup.
function inline(parent, text) {
  const re = /(`[^`]+`|\*\*[^*]+\*\*)/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    const tok = m[0];
    const el = document.createElement(tok.startsWith('`') ? 'code' : 'strong');
    el.textContent = tok.startsWith('`') ? tok.slice(1, -1) : tok.slice(2, -2);
    parent.append(el);
    last = m.index + tok.length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

export function renderMarkdown(src) {
  const root = document.createElement('div');
  root.className = 'md';
  const lines = src.split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.startsWith('```')) {
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      const body = [];
      for (i += 1; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
      code.textContent = body.join('\n');
      pre.append(code);
      root.append(pre);
      i += 1;
    } else if (/^#{1,6} /.test(line)) {
      const level = Math.min(line.indexOf(' ') + 1, 6);
      const h = document.createElement(`h${level}`);
      inline(h, line.slice(line.indexOf(' ') + 1));
      root.append(h);
      i += 1;
    } else if (/^\s*[-*] /.test(line)) {
      const ul = document.createElement('ul');
      for (; i < lines.length && /^\s*[-*] /.test(lines[i]); i++) {
        const li = document.createElement('li');
        inline(li, lines[i].replace(/^\s*[-*] /, ''));
        ul.append(li);
      }
      root.append(ul);
    } else if (line.trim() === '') {
      i += 1;
    } else {
      const p = document.createElement('p');
      const body = [];
      for (; i < lines.length && lines[i].trim() !== '' && !lines[i].startsWith('```') && !/^#{1,6} /.test(lines[i]); i++) body.push(lines[i]);
      inline(p, body.join(' '));
      root.append(p);
    }
  }
  return root;
}
