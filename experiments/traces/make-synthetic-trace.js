#!/usr/bin/env node
// Writes a small synthetic trace in the Mooncake format (docs/ib-load.md "Trace replay"):
//   node experiments/traces/make-synthetic-trace.js > experiments/traces/synthetic-mooncake.jsonl
// Deterministic (own seeded generator, no inputs). 240 requests over 60 s in bursts, blocks of
// 512 tokens, and the three kinds of sharing production traces show:
//   - 4 system prompts (2 blocks each) that every request starts with, one chosen per request;
//   - conversations: a later turn repeats the earlier turn's blocks and appends new ones;
//   - unique blocks for the rest of each prompt.
'use strict';

let state = 20261204;
function rand() {  // mulberry32
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (n) => Math.floor(rand() * n);

const BLOCK = 512;
let nextId = 0;
const newIds = (n) => Array.from({ length: n }, () => nextId++);
const systems = [0, 1, 2, 3].map(() => newIds(2));
const live = [];  // conversations that may get another turn: their ids so far
const lines = [];
let t = 0;
for (let i = 0; i < 240; i++) {
  // Bursts: most gaps short, every ~12th a pause of 1-3 s.
  t += i === 0 ? 0 : (i % 12 === 0 ? 1000 + pick(2000) : pick(180));
  let ids;
  if (live.length > 0 && rand() < 0.35) {
    const c = live.splice(pick(live.length), 1)[0];  // a follow-up turn
    ids = c.concat(newIds(1 + pick(2)));
  } else {
    ids = systems[pick(systems.length)].concat(newIds(1 + pick(4)));
  }
  if (ids.length < 12) live.push(ids);
  // The last block is partly filled.
  const input = (ids.length - 1) * BLOCK + 1 + pick(BLOCK);
  const output = 32 + pick(480);
  lines.push(JSON.stringify({ timestamp: t, input_length: input, output_length: output, hash_ids: ids }));
}
process.stdout.write(lines.join('\n') + '\n');
