import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Db } from '../../platform/db/client.ts';
import { ping } from '../../platform/db/client.ts';
import { isMigrated } from '../../platform/db/migrations.ts';
import { AppError } from '../../shared/errors.ts';
import { errors, READS } from '../schemas.ts';

export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  const tags = ['health'];
  // Liveness costs nothing and spends no budget; readiness costs two queries, so it has a per-IP budget of its own.
  app.get(
    '/health',
    {
      config: { limit: { family: null } },
      schema: {
        tags,
        summary: 'Liveness',
        response: { 200: Type.Object({ status: Type.Literal('ok') }), ...errors('validation_error') },
      },
    },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/health/ready',
    {
      config: { limit: { family: 'health' } },
      schema: {
        tags,
        summary: 'Readiness: the database answers and is migrated',
        response: {
          200: Type.Object({ status: Type.Literal('ready'), database: Type.Literal('ok') }),
          ...errors(...READS, 'not_ready'),
        },
      },
    },
    async () => {
      try {
        await ping(db);
      } catch (err) {
        throw new AppError('not_ready', `The database does not answer: ${(err as Error).message}`, undefined, {
          cause: err,
        });
      }
      if (!(await isMigrated(db)))
        throw new AppError('not_ready', 'The database is not migrated: run `panic-api migrate`.');
      return { status: 'ready' as const, database: 'ok' as const };
    },
  );
};
