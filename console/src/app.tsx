import { useEffect, useState } from 'preact/hooks';
import { loadConfig, saveSession, setToken, signIn, loadSession, type ConsoleConfig, type Session } from './api.ts';
import { startOidcSignIn, takeOidcToken } from './oidc.ts';
import { AuditPage } from './pages/audit.tsx';
import { CachePage } from './pages/cache.tsx';
import { HopsPage } from './pages/hops.tsx';
import { KeysPage } from './pages/keys.tsx';
import { ModelsPage } from './pages/models.tsx';
import { PolicyPage } from './pages/policy.tsx';
import { ProposalsPage } from './pages/proposals.tsx';
import { SpendPage } from './pages/spend.tsx';

const PAGES = [
  { path: 'spend', label: 'Spend & budgets' },
  { path: 'cache', label: 'Prompt cache' },
  { path: 'models', label: 'Models' },
  { path: 'hops', label: 'Provider hops' },
  { path: 'keys', label: 'Keys' },
  { path: 'proposals', label: 'Proposals' },
  { path: 'policy', label: 'Policy history' },
  { path: 'audit', label: 'Audit log' },
] as const;
type PagePath = (typeof PAGES)[number]['path'];

const THEME_KEY = 'gatehouse.console.theme';

function currentPage(): PagePath {
  const path = location.hash.replace(/^#\/?/, '').split('?')[0] as PagePath;
  return PAGES.some((page) => page.path === path) ? path : 'spend';
}

function systemTheme(): 'dark' | 'light' {
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function useTheme(): ['dark' | 'light', () => void] {
  // The attribute is set before rendering (not in an effect): charts read the theme's CSS
  // variables in their own effects, which run before a parent's effects.
  const [theme, setTheme] = useState<'dark' | 'light'>(() => {
    const initial = (localStorage.getItem(THEME_KEY) as 'dark' | 'light' | null) ?? systemTheme();
    document.documentElement.dataset.theme = initial;
    return initial;
  });
  useEffect(() => {
    const media = matchMedia('(prefers-color-scheme: dark)');
    const follow = () => {
      if (localStorage.getItem(THEME_KEY) !== null) return;
      document.documentElement.dataset.theme = systemTheme();
      setTheme(systemTheme());
    };
    media.addEventListener('change', follow);
    return () => media.removeEventListener('change', follow);
  }, []);
  return [
    theme,
    () => {
      const next = theme === 'dark' ? 'light' : 'dark';
      localStorage.setItem(THEME_KEY, next);
      document.documentElement.dataset.theme = next;
      setTheme(next);
    },
  ];
}

function SignIn({ config, onSignedIn, initialError }: { config: ConsoleConfig; onSignedIn: (session: Session) => void; initialError?: string }) {
  const [token, setTokenText] = useState('');
  const [error, setError] = useState(initialError);
  const [busy, setBusy] = useState(false);
  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(token.trim()));
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="signin">
      <form class="card" onSubmit={submit} aria-label="sign in">
        <h1>Gatehouse console</h1>
        <p class="muted">Sign in with an admin, approver or analyst token from <code>admin.tokens</code> in gatehouse.yaml. It is kept for this tab only.</p>
        <label>
          Admin token
          <input type="password" name="token" autocomplete="current-password" required value={token} onInput={(event) => setTokenText((event.target as HTMLInputElement).value)} />
        </label>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy || !token.trim()}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {config.oidc ? (
          <button type="button" onClick={() => config.oidc && startOidcSignIn(config.oidc).catch((failure: Error) => setError(failure.message))}>
            Sign in with single sign-on
          </button>
        ) : null}
      </form>
    </main>
  );
}

// Over 60 lines: the console's shell in one place: session, page switch and layout markup; theme and page hooks live above.
export function App() {
  const [config, setConfig] = useState<ConsoleConfig>();
  const [session, setSession] = useState<Session | undefined>(loadSession());
  const [signInError, setSignInError] = useState<string>();
  const [page, setPage] = useState<PagePath>(currentPage());
  const [days, setDays] = useState(30);
  const [theme, toggleTheme] = useTheme();

  useEffect(() => {
    void loadConfig().then(setConfig);
    const onHash = () => setPage(currentPage());
    addEventListener('hashchange', onHash);
    const idToken = takeOidcToken();
    if (idToken) signIn(idToken).then((next) => remember({ ...next, oidc: true }), (error: Error) => setSignInError(`single sign-on: ${error.message}`));
    return () => removeEventListener('hashchange', onHash);
  }, []);

  function remember(next: Session | undefined) {
    saveSession(next);
    setToken(next?.token ?? '');
    setSession(next);
  }

  const themeButton = (
    <button class="theme" onClick={toggleTheme} aria-label={`switch to ${theme === 'dark' ? 'light' : 'dark'} theme`} title="Toggle dark/light">
      {theme === 'dark' ? '☀' : '☾'}
    </button>
  );
  if (!config) return <p class="loading">Loading…</p>;
  if (!session)
    return (
      <>
        <div class="floating">{themeButton}</div>
        <SignIn config={config} onSignedIn={remember} initialError={signInError} />
      </>
    );
  const timeBased = ['spend', 'cache', 'models', 'hops'].includes(page);
  return (
    <div class="layout">
      <header class="topbar">
        <a class="brand" href="#/spend">
          Gatehouse
        </a>
        <nav aria-label="pages">
          {PAGES.map((item) => (
            <a href={`#/${item.path}`} class={page === item.path ? 'active' : ''} aria-current={page === item.path ? 'page' : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
        <div class="toolbar">
          {timeBased ? (
            <select aria-label="period" value={days} onChange={(event) => setDays(Number((event.target as HTMLSelectElement).value))}>
              <option value={7}>7 days</option>
              <option value={30}>30 days</option>
              <option value={90}>90 days</option>
            </select>
          ) : null}
          {themeButton}
          <span class="who" title={`role: ${session.role}`}>
            {session.name} · {session.role}
          </span>
          <button onClick={() => remember(undefined)}>Sign out</button>
        </div>
      </header>
      <main class="content">
        {page === 'spend' ? <SpendPage days={days} theme={theme} /> : null}
        {page === 'cache' ? <CachePage days={days} theme={theme} /> : null}
        {page === 'models' ? <ModelsPage days={days} theme={theme} /> : null}
        {page === 'hops' ? <HopsPage days={days} theme={theme} /> : null}
        {page === 'keys' ? <KeysPage session={session} /> : null}
        {page === 'proposals' ? <ProposalsPage session={session} /> : null}
        {page === 'policy' ? <PolicyPage /> : null}
        {page === 'audit' ? <AuditPage /> : null}
      </main>
    </div>
  );
}
