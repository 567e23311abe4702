/**
 * The one function of `qrcode` the browser uses. Declared here because @types/qrcode pulls in
 * Node's typings, and the client's type check must see browser types only.
 */
declare module 'qrcode' {
  interface DataUrlOptions {
    margin?: number;
    width?: number;
  }
  const QRCode: {
    toDataURL(text: string, options?: DataUrlOptions): Promise<string>;
  };
  export default QRCode;
}
