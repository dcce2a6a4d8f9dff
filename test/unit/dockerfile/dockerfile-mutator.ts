/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text holds ${VAR} on purpose */
// Deterministic generator of hostile Dockerfiles for the parser's fuzz test: random instruction
// sequences built from the constructs the parser special-cases, and mutations (splices, deletions,
// injected escapes, heredoc markers, quotes, CR, BOM, NUL...) of seed files.

/** mulberry32: a small, fast, seedable PRNG; the same seed gives the same corpus everywhere. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYWORDS = [
  'FROM',
  'RUN',
  'CMD',
  'LABEL',
  'MAINTAINER',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
  'from',
  'Run',
  'copy',
  'onbuild',
  'FORM',
  'RUNN',
  'İNCLUDE',
  'ΣTEP',
  'x',
  '\\',
];
const FLAGS = [
  '--from=build',
  '--mount=type=cache,target=/root/.cache',
  '--chown="a b"',
  "--chmod='755'",
  '--',
  '--x=é',
  '--link',
  '--network=none',
  '--a\\ b',
  '--q="unterminated',
  '--platform=$BUILDPLATFORM',
  '--à',
  '--x=ࠀy',
];
const WORDS = [
  'alpine:3.19',
  'AS',
  'build',
  '/app',
  '.',
  'echo',
  'hello world',
  '"quoted value"',
  "'single'",
  'a=b',
  'KEY="x y"',
  'k=\\"v\\"',
  '$HOME',
  '${VAR:-def}',
  "${a:-\\'}",
  '8080/tcp',
  'CMD',
  'NONE',
  '-c',
  '&&',
  'é',
  '\u00a0',
  '\u0085',
  '\u2028',
  '한국어',
  '😀',
  '\t',
  '\v',
  '\f',
  'a\\',
  '\\\\',
  '`',
  '#',
  '<',
  '<<',
];
const JSON_ARGS = [
  '["echo", "hi"]',
  '[]',
  '[ "a" , "b" ]',
  '["a", 1]',
  '["a", ["b"]]',
  '[1e999]',
  '["a", 1e999]',
  '[null]',
  '["\\u00e9", "\\ud800"]',
  "['single']",
  '["unterminated',
  '[ "a", "b" ',
  '{"a": 1}',
  '["a"] trailing',
  '["tab\\there"]',
  '[true]',
  '[[[[[]]]]]',
];
const HEREDOC_OPENERS = [
  '<<EOF',
  '<<-EOF',
  '<<"EOF"',
  "<<'EOF'",
  '3<<EOF',
  '<<E"O"F',
  '<<  EOF',
  '<<$EOF',
  '<<EOF <<EOT',
];
const INJECTIONS = [
  '\\',
  '\\\n',
  '`',
  '`\n',
  '<<',
  '<<EOF\n',
  '<<-X\n',
  '\nEOF\n',
  '"',
  "'",
  '\r',
  '\r\n',
  '\ufeff',
  '\0',
  '#',
  '# escape=`\n',
  '# syntax=x\n',
  '[',
  ']',
  ',',
  '=',
  '--',
  '\t',
  '${',
  '}',
  '$',
  '\n',
  ' ',
  '\n\n',
  '\\\n\n',
  '\\\n# c\n',
  'é',
  '\u0085',
  '\u00a0',
  '😀',
  'ONBUILD ',
  'RUN ',
  'COPY ',
  'ENV ',
  'HEALTHCHECK ',
];

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const int = (random: Random, max: number): number => Math.floor(random() * max);

function instructionLine(random: Random): string {
  const keyword = pick(random, KEYWORDS);
  const parts = [keyword];
  while (random() < 0.25) parts.push(pick(random, FLAGS));
  if (random() < 0.3) parts.push(pick(random, JSON_ARGS));
  else for (let n = int(random, 4); n > 0; n--) parts.push(pick(random, WORDS));
  if (random() < 0.15) parts.push(pick(random, HEREDOC_OPENERS));
  let line = parts.join(
    random() < 0.9 ? ' ' : pick(random, ['\t', '  ', ' \\\n ', '\\\n', '\\\n\n', '\\\n# c\n']),
  );
  if (random() < 0.1) line += pick(random, [' \\', '\\', ' \\ ', '\\\\']);
  return line;
}

/** A fresh Dockerfile made of random instructions, comments, directives and heredoc bodies. */
export function generateDockerfile(random: Random): string {
  const lines: string[] = [];
  if (random() < 0.1) lines.push('\ufeff' + pick(random, ['# syntax=docker/dockerfile:1', '# escape=`', '']));
  if (random() < 0.2)
    lines.push(
      pick(random, ['# escape=`', '# escape=\\', '# ESCAPE = ` ', '# escape=x', '# check=skip=all']),
    );
  for (let n = 1 + int(random, 12); n > 0; n--) {
    const roll = random();
    if (roll < 0.1) lines.push(pick(random, ['# a comment', '#', '   # indented', '']));
    else lines.push(instructionLine(random));
    if (lines[lines.length - 1]!.includes('<<')) {
      for (let body = int(random, 3); body > 0; body--)
        lines.push(pick(random, ['\tbody', 'echo $X', 'EOF ', '  x']));
      if (random() < 0.85) lines.push(pick(random, ['EOF', '\tEOF', 'EOT', 'EOF']));
      if (random() < 0.3) lines.push('EOT');
    }
  }
  return lines.join(random() < 0.15 ? '\r\n' : '\n') + (random() < 0.8 ? '\n' : '');
}

/** A mutation of `source`: 1 to 4 edits, some splicing in text from `donor`. */
export function mutate(random: Random, source: string, donor: string): string {
  let text = source;
  for (let edits = 1 + int(random, 4); edits > 0; edits--) {
    const at = int(random, text.length + 1);
    const roll = random();
    if (roll < 0.3) {
      text = text.slice(0, at) + pick(random, INJECTIONS) + text.slice(at);
    } else if (roll < 0.5) {
      text = text.slice(0, at) + text.slice(at + 1 + int(random, 8));
    } else if (roll < 0.7) {
      const from = int(random, donor.length + 1);
      text = text.slice(0, at) + donor.slice(from, from + int(random, 200)) + text.slice(at);
    } else if (roll < 0.8) {
      const lines = text.split('\n');
      const i = int(random, lines.length);
      const j = int(random, lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      text = lines.join('\n');
    } else if (roll < 0.9) {
      text = text.slice(0, at);
    } else {
      const code = int(random, 0x80);
      text = text.slice(0, at) + String.fromCharCode(code) + text.slice(at + 1);
    }
  }
  return text;
}

/** Lines as BuildKit's scanner counts them: a final line without `\n` counts, an empty file has 0. */
export function lineCount(text: string): number {
  if (text === '') return 0;
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return text.endsWith('\n') ? count : count + 1;
}
