import React from 'react';
import ReactDOM from 'react-dom/client';
import CssBaseline from '@mui/material/CssBaseline';
import { DockerMuiV6ThemeProvider } from '@docker/docker-mui-theme';
import App from './App';
import { outsideDesktop } from './theme';

// Desktop injects its MUI v6 theme options; outside it (the test host, vite dev) the
// stand-in of theme.ts.
const w = window as unknown as Record<string, unknown>;
w.__ddMuiV6Themes ??= outsideDesktop;

ReactDOM.createRoot(document.getElementById('root')!).render(
  <React.StrictMode>
    <DockerMuiV6ThemeProvider>
      <CssBaseline />
      <App />
    </DockerMuiV6ThemeProvider>
  </React.StrictMode>,
);
