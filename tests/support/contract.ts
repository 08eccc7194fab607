/** What the emulator contract tests share: reading parsed JSON, and the error of a call that must fail. */

/** Reads a nested value of parsed JSON. */
export function at(value: unknown, ...path: Array<string | number>): unknown {
  return path.reduce<unknown>(
    (v, k) => (v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined),
    value,
  );
}

/** The fields the Azure SDKs' RestError carries. */
export interface SdkError {
  statusCode?: number;
  code?: string;
  message: string;
}

/** The error `promise` rejects with; throws when it resolves. */
export async function failure(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    return error as SdkError;
  }
  throw new Error('expected the call to fail');
}
