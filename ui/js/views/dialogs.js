import { h } from '../dom.js';
import { formErrors } from '../format.js';

/** Opens a modal <dialog>; Escape cancels it as the platform does. Returns a close function. */
function openModal(dialog) {
  document.body.append(dialog);
  dialog.addEventListener('close', () => dialog.remove());
  dialog.showModal();
  return () => dialog.close();
}

/**
 * Asks before something destructive. Resolves to { confirmed, checked } where `checked` is
 * the optional checkbox's final state.
 */
export function confirmDialog({ title, body, confirmLabel, checkbox }) {
  return new Promise((resolve) => {
    const box = checkbox
      ? h('input', { type: 'checkbox', id: 'confirm-check', checked: checkbox.checked })
      : null;
    let confirmed = false;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'confirm-title' },
      h('form', { method: 'dialog', onsubmit: () => { confirmed = true; } },
        h('h2', { id: 'confirm-title' }, title),
        h('p', {}, body),
        box ? h('label', { class: 'check' }, box, checkbox.label) : null,
        h('div', { class: 'dialog-actions' },
          // Focus starts on Cancel: Enter alone must never destroy anything.
          h('button', { type: 'button', class: 'button', autofocus: true, onclick: () => close() },
            'Cancel'),
          h('button', { type: 'submit', class: 'button danger', 'data-test': 'confirm' },
            confirmLabel))));
    dialog.addEventListener('close', () => resolve({ confirmed, checked: box?.checked ?? false }));
    const close = openModal(dialog);
  });
}

/** The new-bot form. `submit(name, image)` resolves when created or throws {kind, message}. */
export function newBotDialog(submit) {
  const name = h('input', {
    id: 'bot-name', name: 'name', required: true, autocomplete: 'off',
    'data-test': 'bot-name',
  });
  const image = h('input', {
    id: 'bot-image', name: 'image', required: true, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'debian:bookworm', 'data-test': 'bot-image',
  });
  const nameError = h('p', { class: 'field-error', id: 'bot-name-error', role: 'alert' });
  const imageError = h('p', { class: 'field-error', id: 'bot-image-error', role: 'alert' });
  const formError = h('p', { class: 'field-error', role: 'alert' });
  name.setAttribute('aria-describedby', 'bot-name-error');
  image.setAttribute('aria-describedby', 'bot-image-error');
  const createButton = h('button', {
    type: 'submit', class: 'button primary', 'data-test': 'submit-bot',
  }, 'Create bot');

  const show = (error) => {
    const messages = formErrors(error);
    nameError.textContent = messages.name;
    imageError.textContent = messages.image;
    formError.textContent = messages.form;
    name.setAttribute('aria-invalid', String(Boolean(messages.name)));
    image.setAttribute('aria-invalid', String(Boolean(messages.image)));
  };

  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      createButton.disabled = true;
      try {
        await submit(name.value, image.value);
        close();
      } catch (error) {
        show(error);
        (error.kind === 'invalidReference' ? image : name).focus();
      } finally {
        createButton.disabled = false;
      }
    },
  },
  h('h2', { id: 'new-bot-title' }, 'New bot'),
  h('label', { for: 'bot-name' }, 'Name'), name, nameError,
  h('label', { for: 'bot-image' }, 'Image'), image, imageError,
  formError,
  h('div', { class: 'dialog-actions' },
    h('button', { type: 'button', class: 'button', onclick: () => close() }, 'Cancel'),
    createButton));

  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'new-bot-title' }, form);
  const close = openModal(dialog);
  name.focus();
}

/**
 * A dialog that asks for one line of text. `submit(value)` resolves when the work has
 * started, and the dialog closes; or it throws {kind, message}, which shows under the field
 * and keeps the dialog open with what was typed.
 */
function oneFieldDialog({ id, title, body, label, value, confirm, test, submit, select }) {
  const field = h('input', {
    id: `${id}-field`, value, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': `${id}-error`, 'data-test': test.field,
  });
  const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  const confirmButton = h('button', {
    type: 'submit', class: 'button primary', 'data-test': test.confirm,
  }, confirm);
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      confirmButton.disabled = true;
      try {
        await submit(field.value);
        close();
      } catch (failure) {
        error.textContent = failure.message;
        field.setAttribute('aria-invalid', 'true');
        field.focus();
      } finally {
        confirmButton.disabled = false;
      }
    },
  },
  h('h2', { id: `${id}-title` }, title),
  h('p', {}, body),
  h('label', { for: `${id}-field` }, label), field, error,
  h('div', { class: 'dialog-actions' },
    h('button', { type: 'button', class: 'button', onclick: () => close() }, 'Cancel'),
    confirmButton));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': `${id}-title` }, form);
  const close = openModal(dialog);
  if (select) field.select();
  else field.focus();
}

/** Asks which image to update to, the bot's own reference first. */
export function updateImageDialog(bot, submit) {
  oneFieldDialog({
    id: 'update-image',
    title: `Update the image of ${bot.name}`,
    body: 'Berth pulls the image again. If it changed, the container is created anew from '
      + 'it, keeping its data directory and whether it runs. Anything installed or changed '
      + 'in the container outside /data is lost.',
    label: 'Image',
    value: bot.image,
    confirm: 'Update',
    test: { field: 'update-image-ref', confirm: 'confirm-update' },
    submit,
  });
}

/** Asks for a new snapshot's name, `suggested` selected so that typing replaces it. */
export function snapshotDialog(bot, suggested, submit) {
  oneFieldDialog({
    id: 'snapshot-name',
    title: `Take a snapshot of ${bot.name}`,
    body: 'The snapshot holds the container\'s files and its whole data directory. A '
      + 'running container is paused while they are saved.',
    label: 'Name',
    value: suggested,
    confirm: 'Take snapshot',
    test: { field: 'snapshot-name', confirm: 'confirm-snapshot' },
    submit,
    select: true,
  });
}

/**
 * A confirmation of something destructive with an offer, on by default, to take a snapshot
 * first under a name the user may edit. `submit(saveAs)` (saveAs null when unticked) starts
 * the work; a refusal (a taken name, say) shows under the name and keeps the dialog open.
 * Enter in the name field does nothing: only the button confirms.
 */
function confirmWithSnapshot({ id, title, body, confirmLabel, suggested, submit }) {
  const save = h('input', {
    type: 'checkbox', id: `${id}-save`, checked: true, 'data-test': `${id}-save`,
  });
  const name = h('input', {
    id: `${id}-save-name`, value: suggested, autocomplete: 'off',
    'aria-label': 'Name of the snapshot taken first', 'aria-describedby': `${id}-error`,
    'data-test': `${id}-save-name`,
    onkeydown: (event) => { if (event.key === 'Enter') event.preventDefault(); },
  });
  const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  save.addEventListener('change', () => { name.disabled = !save.checked; });
  const confirmButton = h('button', {
    type: 'submit', class: 'button danger', 'data-test': `confirm-${id}`,
  }, confirmLabel);
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      confirmButton.disabled = true;
      try {
        await submit(save.checked ? name.value : null);
        close();
      } catch (failure) {
        error.textContent = failure.message;
        name.setAttribute('aria-invalid', 'true');
        if (!name.disabled) name.focus();
      } finally {
        confirmButton.disabled = false;
      }
    },
  },
  h('h2', { id: `${id}-title` }, title),
  h('p', {}, body),
  h('label', { class: 'check' }, save, 'First take a snapshot'),
  name,
  error,
  h('div', { class: 'dialog-actions' },
    h('button', { type: 'button', class: 'button', autofocus: true, onclick: () => close() },
      'Cancel'),
    confirmButton));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': `${id}-title` }, form);
  const close = openModal(dialog);
}

/** Asks before a restore; see confirmWithSnapshot. */
export function restoreDialog(bot, snapshot, suggested, submit) {
  confirmWithSnapshot({
    id: 'restore',
    title: `Restore ${bot.name} to “${snapshot.name}”?`,
    body: 'The container\'s files and data directory return to what they were when the '
      + 'snapshot was taken. Whatever changed since is replaced.',
    confirmLabel: 'Restore',
    suggested,
    submit,
  });
}

/** Asks before emptying the data directory; see confirmWithSnapshot. */
export function resetDialog(bot, suggested, submit) {
  confirmWithSnapshot({
    id: 'reset',
    title: `Reset the data of ${bot.name}?`,
    body: 'Everything in the data directory (/data) is deleted. The container and what is '
      + 'installed in it stay.',
    confirmLabel: 'Reset data',
    suggested,
    submit,
  });
}

/** Asks before an import that replaces the data directory; see confirmWithSnapshot. */
export function replaceDialog(bot, suggested, submit) {
  confirmWithSnapshot({
    id: 'replace',
    title: `Replace the data of ${bot.name}?`,
    body: 'After the import the data directory holds exactly the archive: files it does not '
      + 'have are deleted. You choose the archive next.',
    confirmLabel: 'Choose archive…',
    suggested,
    submit,
  });
}

/** Asks how an import treats the data directory's current files. Resolves to 'merge',
 * 'replace', or null when cancelled. */
export function importDialog(bot) {
  return new Promise((resolve) => {
    const option = (value, label, hint, checked) => h('label', { class: 'choice' },
      h('input', {
        type: 'radio', name: 'import-mode', value, checked, 'data-test': `import-${value}`,
      }),
      h('span', {}, h('strong', {}, label), h('span', { class: 'muted' }, hint)));
    let chosen = null;
    const form = h('form', {
      method: 'dialog',
      onsubmit: () => {
        chosen = form.querySelector('input[name=import-mode]:checked')?.value ?? null;
      },
    },
    h('h2', { id: 'import-title' }, `Import data into ${bot.name}`),
    h('p', {}, 'Choose what happens to the files the data directory holds now, then the archive '
      + '(.tar, .tar.gz or .tgz). Every entry is checked before anything is written.'),
    option('merge', 'Merge', 'The archive\'s files overwrite theirs; other files stay.', true),
    option('replace', 'Replace', 'Afterwards the data directory holds exactly the archive.', false),
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'button', onclick: () => close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'button primary', 'data-test': 'confirm-import' },
        'Choose archive…')));
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'import-title' }, form);
    dialog.addEventListener('close', () => resolve(chosen));
    const close = openModal(dialog);
    form.querySelector('input[name=import-mode]:checked').focus();
  });
}
