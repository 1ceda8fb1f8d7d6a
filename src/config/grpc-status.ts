/** gRPC status codes by name (grpc/doc/statuscodes.md). */
export const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** A gRPC status by name (`UNAVAILABLE`) or number, as Istio's fault.abort.grpcStatus takes it; null when it is neither. */
export function grpcCode(v: string): number | null {
  if (/^\d+$/.test(v)) return Number(v) <= 16 ? Number(v) : null;
  return GRPC_CODES[v.toUpperCase()] ?? null;
}
