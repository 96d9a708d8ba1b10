// The sign-in form: the admin token, posted as JSON (a form of another site cannot), once.
const form = document.getElementById('sign-in');
const error = document.getElementById('sign-in-error');
const token = document.getElementById('token');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  if (!token.value) {
    error.textContent = 'Enter the admin token.';
    token.focus();
    return;
  }
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const res = await fetch('/console/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ token: token.value }),
      credentials: 'same-origin',
    });
    if (res.ok) {
      location.assign('/console');
      return;
    }
    const data = await res.json().catch(() => ({}));
    error.textContent = data.error?.message ?? `The server answered ${res.status}.`;
    token.select();
    token.focus();
  } catch {
    error.textContent = 'The server did not answer. Check the connection and try again.';
  } finally {
    button.disabled = false;
  }
});
