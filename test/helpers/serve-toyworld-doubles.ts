/**
 * Serves the toy world's captioner and recomposer TEST DOUBLES (toyworld-doubles.ts) on 127.0.0.1 for
 * a manual `starword evaluate` run (how the README's toy-world table was made):
 *   npx tsx test/helpers/serve-toyworld-doubles.ts [benchDir]   → prints the base URL; Ctrl-C stops it.
 */
import { join } from 'node:path';
import { startLlmTestServer } from './llm-test-server.ts';
import { loadToyGallery, toyWorldChat } from './toyworld-doubles.ts';

const bench = process.argv[2] ?? join(import.meta.dirname, '..', '..', 'data', 'toyworld', 'bench');
const server = await startLlmTestServer({ chat: toyWorldChat(loadToyGallery(bench)) });
process.stdout.write(`${server.baseURL}\n`);
process.on('SIGINT', () => { void server.close().then(() => process.exit(0)); });
process.on('SIGTERM', () => { void server.close().then(() => process.exit(0)); });
