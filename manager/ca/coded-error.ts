// The base of the CA's own errors (CAError, SealError): a code the caller branches on, and the
// class's name as the error's name.
export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
