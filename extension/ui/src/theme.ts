// The theme outside Docker Desktop. Inside Desktop, DockerMuiV6ThemeProvider
// (@docker/docker-mui-theme) builds the UI's theme from the options Desktop injects
// (window.__ddMuiV6Themes, light and dark), so the extension follows Desktop's look and its
// changes. Outside it (the browser test's host, `vite dev`, the screenshots) nothing is
// injected: these options stand in, an approximation of Desktop's theme (its blue, its
// compact type scale with h3/h4 headings of 18/16 px, no upper-case buttons), so that what is
// seen and screenshot there is not stock MUI. They are only a default: Desktop's win.
import type { ThemeOptions } from '@mui/material';

const typography: ThemeOptions['typography'] = {
  fontFamily: '"Roboto", "Helvetica Neue", "Helvetica", "Arial", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif',
  fontSize: 14,
  h1: { fontSize: 24, fontWeight: 500, lineHeight: 1.33 },
  h2: { fontSize: 20, fontWeight: 500, lineHeight: 1.4 },
  h3: { fontSize: 18, fontWeight: 500, lineHeight: 1.33 },
  h4: { fontSize: 16, fontWeight: 500, lineHeight: 1.5 },
  h5: { fontSize: 14, fontWeight: 500, lineHeight: 1.43 },
  h6: { fontSize: 14, fontWeight: 500, lineHeight: 1.43 },
  body1: { fontSize: 14, lineHeight: 1.43 },
  body2: { fontSize: 13, lineHeight: 1.38 },
  caption: { fontSize: 12 },
  button: { textTransform: 'none', fontWeight: 500 },
};
const shape = { borderRadius: 4 };
const components: ThemeOptions['components'] = {
  MuiButton: { defaultProps: { disableElevation: true } },
  MuiTableCell: { styleOverrides: { head: { fontWeight: 500 } } },
};

/** The light and dark options used when Desktop injected none. */
export const outsideDesktop: { light: ThemeOptions; dark: ThemeOptions } = {
  light: {
    palette: {
      mode: 'light', primary: { main: '#1d63ed' }, secondary: { main: '#677285' }, error: { main: '#d52536' },
      warning: { main: '#c87a00' }, success: { main: '#1e8449' }, info: { main: '#1d63ed' },
      background: { default: '#ffffff', paper: '#ffffff' }, text: { primary: '#17191e', secondary: '#505968' }, divider: '#e1e2e6',
    },
    typography, shape, components,
  },
  dark: {
    palette: {
      mode: 'dark', primary: { main: '#4c8bf5' }, secondary: { main: '#8993a5' }, error: { main: '#f0646f' },
      warning: { main: '#f5a623' }, success: { main: '#3cbf74' }, info: { main: '#4c8bf5' },
      background: { default: '#202124', paper: '#2a2c30' }, text: { primary: '#e6e7ea', secondary: '#a5acb8' }, divider: '#3a3d43',
    },
    typography, shape, components,
  },
};
