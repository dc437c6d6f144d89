/**
 * Preloaded (`node --import`) into a measured child by `bench scale`: at exit, writes the process's
 * peak resident size (getrusage maxrss, KiB) to $STARWORD_MAX_RSS_FILE.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.STARWORD_MAX_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS })));
