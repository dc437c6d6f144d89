/** The one LLM answer cache: captions and phrases in one store, and caption files of the older layout read on. */
import test from 'ava';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { AnswerCache } from '../../stages/caption/answer-cache.ts';
import { LlmAnswerCache } from '../../util/llm/answer-cache.ts';
import { tempDir } from '../helpers/test-utils.ts';

test('a caption file of the older layout (an answers table) is read on: committed answers served, failures kept, nothing asked again', (t) => {
  const path = join(tempDir('answers-v1', t.teardown), 'captions.sqlite');
  const old = new Database(path);
  old.exec(`CREATE TABLE answers (kind TEXT NOT NULL, key TEXT NOT NULL, identity_json TEXT NOT NULL, status TEXT NOT NULL,
    text TEXT, reason TEXT, failures INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL, PRIMARY KEY (kind, key))`);
  const ins = old.prepare('INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  ins.run('caption', 'k1', '{}', 'ok', 'a red circle', null, 0, 10, 3, '2026-01-01T00:00:00Z');
  ins.run('recomposition', 'k1', '{}', 'ok', 'a blue circle', null, 0, 20, 4, '2026-01-01T00:00:00Z');
  ins.run('caption', 'k2', '{}', 'failed', null, 'HTTP 500', 2, 0, 0, '2026-01-01T00:00:00Z');
  old.close();

  for (let open = 0; open < 2; open++) { // the second open finds the rows already moved
    const cache = AnswerCache.open(path);
    t.is(cache.get('caption', 'k1'), 'a red circle');
    t.is(cache.get('recomposition', 'k1'), 'a blue circle');
    t.is(cache.get('caption', 'k2'), null);
    t.deepEqual(cache.failure('caption', 'k2'), { reason: 'HTTP 500', attempts: 2 });
    cache.close();
  }
  const db = new Database(path, { readonly: true });
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  db.close();
  t.deepEqual(tables, ['answers_migrated', 'concepts', 'configs', 'phrases']);
});

test('captions and phrases share one store without mixing', (t) => {
  const path = join(tempDir('answers-shared', t.teardown), 'answers.sqlite');
  const captions = AnswerCache.open(path);
  captions.commit('caption', 'dog', {}, 'a caption', { prompt: 1, completion: 1 });
  captions.close();
  const phrases = LlmAnswerCache.open(path);
  const key = phrases.register({ backend: 'completions', model: 'm', params: {} });
  t.is(phrases.get(key, 'dog'), null, 'a caption is not a concept\'s phrases');
  phrases.commit(key, 'dog', { phrases: ['a dog', 'two dogs'], usage: { prompt: 5, completion: 6 } });
  phrases.close();
  const again = AnswerCache.open(path);
  t.is(again.get('caption', 'dog'), 'a caption');
  again.close();
});
