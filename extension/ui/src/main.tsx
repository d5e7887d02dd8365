import React from 'react';
import ReactDOM from 'react-dom/client';
import CssBaseline from '@mui/material/CssBaseline';
import { DockerMuiThemeProvider } from '@docker/docker-mui-theme';
import App from './App';

// Desktop injects its MUI theme options; outside it (the test host, vite dev) MUI's defaults.
const w = window as unknown as Record<string, unknown>;
const plain = { light: { palette: { mode: 'light' } }, dark: { palette: { mode: 'dark' } } };
w.__ddMuiV5Themes ??= plain;
w.__ddMuiV6Themes ??= plain;

ReactDOM.createRoot(document.getElementById('root')!).render(
  <React.StrictMode>
    <DockerMuiThemeProvider>
      <CssBaseline />
      <App />
    </DockerMuiThemeProvider>
  </React.StrictMode>,
);
