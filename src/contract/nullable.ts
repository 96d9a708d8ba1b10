import { Type, type TSchema } from 'typebox';

/** A field that may be null: the schema or null. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
