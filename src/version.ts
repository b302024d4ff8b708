// The version --version prints (package.json's; kept here so the CLI reads no file at start).
export const VERSION = '0.1.0'
