/** The files a `starword lincir` output folder holds (the commands that read them need only the names). */
export const LINCIR_ONNX = 'lincir.onnx';
export const LINCIR_SAFETENSORS = 'lincir.safetensors';
export const LINCIR_CHECKPOINT = 'lincir.pt';
/** the caption file's phrase store (`--captions`), under the output folder */
export const CAPTIONS_DIR = 'captions';
