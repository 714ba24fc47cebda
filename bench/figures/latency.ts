import type { BenchFleet } from '../lib/fleet.js';
import type { BenchProfile } from '../lib/profile.js';
import type { Redis } from '../lib/redis.js';
import type { FigureResult } from '../lib/report.js';
export function latencyFigure(_f: BenchFleet, _r: Redis | undefined, _p: BenchProfile, _log: (s: string) => void, _w: { fleet: boolean; peer: boolean }): Promise<FigureResult> { return Promise.reject(new Error('todo')); }
