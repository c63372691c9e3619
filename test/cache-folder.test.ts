/**
 * What a run leaves in the user's cache folder and no run reads (src/cache-folder.ts removeLeftovers), on real files
 * in a temporary folder: the temporary file of a run killed between its write and its rename, and files an older
 * build named otherwise. Nothing that a run may be writing now, nothing through a symlink, nothing below the folder.
 */
import { spawnSync } from 'node:child_process';
import { lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeAllButNewest, removeLeftovers, temporaryPlace } from '../src/cache-folder.js';

let dir: string;
let folder: string;
let outside: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-cache-folder-'));
  folder = path.join(dir, 'pushcheck');
  outside = path.join(dir, 'outside');
  mkdirSync(folder);
  mkdirSync(outside);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has ended (a child's, waited for). */
function endedPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8', timeout: 30_000 });
  return Number(child.stdout.trim());
}

/** Writes `name` in `where`, last written `ageMs` ago. */
function file(where: string, name: string, ageMs: number, text = 'x'): string {
  const place = path.join(where, name);
  writeFileSync(place, text);
  const when = (Date.now() - ageMs) / 1000;
  utimesSync(place, when, when);
  return place;
}

const MINUTE = 60_000;

describe('removeLeftovers', () => {
  it("removes a killed run's temporary file once no process of its pid lives and it is a minute old, or once it is an hour old", () => {
    const ended = endedPid();
    const live = process.pid;
    file(folder, `a.cache.${ended}.tmp`, 2 * MINUTE);
    file(folder, `b.json.${ended}.tmp`, 2 * MINUTE);
    file(folder, `c.cache.${live}.tmp`, 61 * MINUTE);
    // Kept: its writer lives (it may be writing it now); or too young to be sure, though no process of its pid lives
    // here (a run in another PID namespace that shares the folder may be writing it).
    file(folder, `d.cache.${live}.tmp`, 2 * MINUTE);
    file(folder, `e.cache.${ended}.tmp`, 10_000);
    // Kept: not writeWhole's.
    file(folder, 'f.tmp', 2 * 60 * MINUTE);
    file(folder, `g.cache.${ended}.tmp.notes`, 2 * 60 * MINUTE);
    expect(removeLeftovers(folder).sort()).toEqual([`a.cache.${ended}.tmp`, `b.json.${ended}.tmp`, `c.cache.${live}.tmp`]);
    expect(readdirSync(folder).sort()).toEqual([`d.cache.${live}.tmp`, `e.cache.${ended}.tmp`, 'f.tmp', `g.cache.${ended}.tmp.notes`]);
  });

  it('removes the files `former` names, and only regular files right in the folder: no symlink, its target, or a folder', () => {
    const ended = endedPid();
    const former = (name: string): boolean => name.endsWith('.old');
    file(folder, 'a.old', 0);
    file(folder, 'b.new', 0);
    // A symlink named as a leftover, to a file outside: neither the link nor what it points to goes.
    const target = file(outside, 'precious.old', 2 * 60 * MINUTE, 'keep me');
    for (const name of [`link.cache.${ended}.tmp`, 'link.old']) {
      symlinkSync(target, path.join(folder, name));
      const when = (Date.now() - 2 * 60 * MINUTE) / 1000;
      lutimesSync(path.join(folder, name), when, when);
    }
    // A folder named as a leftover, with leftovers in it: not entered.
    const below = path.join(folder, `sub.cache.${ended}.tmp`);
    mkdirSync(below);
    file(below, `x.cache.${ended}.tmp`, 2 * 60 * MINUTE);
    file(below, 'x.old', 0);
    expect(removeLeftovers(folder, former)).toEqual(['a.old']);
    expect(readdirSync(folder).sort()).toEqual(['b.new', `link.cache.${ended}.tmp`, 'link.old', `sub.cache.${ended}.tmp`]);
    expect(readFileSync(target, 'utf8')).toBe('keep me');
    expect(readdirSync(below).sort()).toEqual([`x.cache.${ended}.tmp`, 'x.old']);
  });

  it("reads the writer's pid from the name writeWhole gives its temporary file", () => {
    const ended = endedPid();
    const killed = temporaryPlace(path.join(folder, 'kept.json'), ended);
    const writing = temporaryPlace(path.join(folder, 'kept.json'));
    for (const place of [killed, writing]) file(folder, path.basename(place), 2 * MINUTE);
    expect(removeLeftovers(folder)).toEqual([path.basename(killed)]);
    expect(readdirSync(folder)).toEqual([path.basename(writing)]);
  });
});

describe('removeAllButNewest', () => {
  it('keeps the newest regular files and removes the rest; a symlink is not followed, counted or removed, nor is its target', () => {
    for (const [name, ageMinutes] of [['a.cache', 30], ['b.cache', 20], ['c.cache', 10]] as const) file(folder, name, ageMinutes * MINUTE);
    // Newer than any of ours by its target's age (statSync would have kept it and removed b.cache), and one whose
    // target is gone (statSync threw, and nothing was pruned).
    const target = file(outside, 'precious.cache', 0, 'keep me');
    symlinkSync(target, path.join(folder, 'link.cache'));
    symlinkSync(path.join(outside, 'gone.cache'), path.join(folder, 'dangling.cache'));
    mkdirSync(path.join(folder, 'sub.cache'));
    const names = ['a.cache', 'b.cache', 'c.cache', 'link.cache', 'dangling.cache', 'sub.cache', 'removed-meanwhile.cache'];
    expect(removeAllButNewest(folder, names, 2)).toEqual(['a.cache']);
    expect(readdirSync(folder).sort()).toEqual(['b.cache', 'c.cache', 'dangling.cache', 'link.cache', 'sub.cache']);
    expect(readFileSync(target, 'utf8')).toBe('keep me');
  });
});
