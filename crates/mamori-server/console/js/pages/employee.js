// Employees use only the transparency page.

import { h } from '../dom.js';
import { t, getLang } from '../i18n.js';
import { pageHeader, card } from '../ui.js';

export default async function employee(page) {
  page.appendChild(pageHeader(t('employee.title')));
  page.appendChild(card(null, h('div', { class: 'stack' },
    h('p', null, t('employee.text')),
    h('p', null, h('a', { class: 'button primary', href: `/transparency?lang=${getLang()}`, testid: 'employee-transparency' }, t('footer.transparency'))))));
}
