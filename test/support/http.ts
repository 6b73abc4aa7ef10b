/**
 * The JSON body of an HTTP response, typed for the test reading it.
 * `Response.json()` is `unknown` under strict mode; tests assert on the shape, so the default is `any`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json<T = any>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
